"""The SFTP client against real SSH servers on 127.0.0.1: asyncssh's, and OpenSSH's sshd when
it is installed. The pinned host key is the only one accepted, before any credential is sent."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from credgate.connectors.credentials import validate_create
from credgate.connectors.hostkeys import HostKey, parse_host_key
from credgate.connectors.sftp import (
    AuthenticationFailed,
    ConnectionFailed,
    HostKeyMismatch,
    SftpClient,
    SftpError,
    Timeouts,
    TransferFailed,
    check_connection,
    check_credential,
    connect,
    connect_credential,
)
from support import LOOPBACK, free_port
from support.ssh import AuthLog, RecordingServer

T = TypeVar("T")

USER = "exporter"
PASSWORD = "Sftp-pa55word-9c1e"  # the string no error text may ever contain
FAST = Timeouts(connect=5.0, operation=5.0)
SSHD = Path("/usr/sbin/sshd")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


E = TypeVar("E", bound=BaseException)


async def refused(
    kind: type[E],
    port: int,
    key: HostKey,
    *,
    user: str = USER,
    password: str = PASSWORD,
    timeouts: Timeouts = FAST,
) -> E:
    """The ``kind`` of error ``connect`` raises for 127.0.0.1:``port`` with ``key`` pinned."""
    with pytest.raises(kind) as info:
        await connect(
            "127.0.0.1", port, user, password, key, timeouts=timeouts, destinations=LOOPBACK
        )
    return info.value


@pytest.fixture(scope="module")
def server_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ecdsa-sha2-nistp256")


@pytest.fixture(scope="module")
def pinned(server_key: asyncssh.SSHKey) -> HostKey:
    # what an administrator pastes: the public line, as ssh-keyscan prints it
    line = server_key.export_public_key("openssh").decode()
    return parse_host_key(f"127.0.0.1 {line}")


@pytest.fixture(scope="module")
def other_key() -> HostKey:
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    return parse_host_key(key.export_public_key("openssh").decode())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "chroot"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of our own, so that nothing in the real ~/.ssh can influence a test."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


@asynccontextmanager
async def sftp_server(
    root: Path, *host_keys: asyncssh.SSHKey
) -> AsyncIterator[tuple[int, AuthLog]]:
    """asyncssh's SSH server with SFTP chrooted to ``root``, password auth, on a free port."""
    log = AuthLog()
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=list(host_keys),
        server_factory=lambda: RecordingServer(log, USER, PASSWORD),
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
        allow_scp=False,
    )
    try:
        yield server.get_port(), log
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def session(
    root: Path, server_key: asyncssh.SSHKey, key: HostKey
) -> AsyncIterator[SftpClient]:
    """A client signed in to a fresh :func:`sftp_server` over ``root``, with ``key`` pinned."""
    async with (
        sftp_server(root, server_key) as (port, _log),
        await connect(
            "127.0.0.1", port, USER, PASSWORD, key, timeouts=FAST, destinations=LOOPBACK
        ) as client,
    ):
        yield client


def all_text(exc: BaseException) -> str:
    """Everything an exception could show: its text, its repr, and those of its causes."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# -- the right key ------------------------------------------------------------------------------


def test_right_key_uploads_a_file(root: Path, server_key: asyncssh.SSHKey, pinned: HostKey) -> None:
    async def scenario() -> tuple[list[str], list[str], AuthLog]:
        async with sftp_server(root, server_key) as (port, log):
            client = await connect(
                "127.0.0.1", port, USER, PASSWORD, pinned, timeouts=FAST, destinations=LOOPBACK
            )
            async with client:
                await client.mkdir("exports/daily")
                await client.mkdir("exports/daily")  # exists already: fine with parents=True
                written = await client.upload(b"id,name\n1,alpha\n", "exports/daily/devices.csv")
                assert written == 16
                await client.upload(b"id,name\n2,beta\n", "exports/daily/devices.csv")
                listing = await client.listdir("exports/daily")
                home = await client.listdir()
            return listing, home, log

    listing, home, log = run(scenario())
    assert (root / "exports/daily/devices.csv").read_bytes() == b"id,name\n2,beta\n"
    assert listing == ["devices.csv"]  # no temporary file left behind
    assert home == ["exports"]
    assert log.auth_started == [USER]
    assert log.password_attempts == 1


def test_upload_from_a_local_file(
    root: Path, tmp_path: Path, server_key: asyncssh.SSHKey, pinned: HostKey
) -> None:
    local = tmp_path / "big.jsonl"
    payload = b'{"device": "pc-0001"}\n' * 50_000  # about 1 MB, several SFTP writes
    local.write_bytes(payload)

    async def scenario() -> int:
        async with session(root, server_key, pinned) as client:
            return await client.upload(local, "big.jsonl")

    assert run(scenario()) == len(payload)
    assert (root / "big.jsonl").read_bytes() == payload
    assert sorted(p.name for p in root.iterdir()) == ["big.jsonl"]


def test_upload_without_posix_rename_still_replaces(
    root: Path, server_key: asyncssh.SSHKey, pinned: HostKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without the posix-rename extension: plain rename after removing the target."""

    async def unsupported(self: asyncssh.SFTPClient, old: str, new: str) -> None:
        raise asyncssh.SFTPOpUnsupported("posix-rename not supported")

    monkeypatch.setattr(asyncssh.SFTPClient, "posix_rename", unsupported)
    (root / "report.csv").write_bytes(b"old")

    async def scenario() -> None:
        async with session(root, server_key, pinned) as client:
            await client.upload(b"new", "report.csv")

    run(scenario())
    assert (root / "report.csv").read_bytes() == b"new"
    assert [p.name for p in root.iterdir()] == ["report.csv"]


def test_failed_upload_is_a_transfer_error_and_leaves_nothing(
    root: Path, server_key: asyncssh.SSHKey, pinned: HostKey
) -> None:
    async def scenario() -> TransferFailed:
        async with session(root, server_key, pinned) as client:
            with pytest.raises(TransferFailed) as info:
                await client.upload(b"data", "missing-dir/report.csv")
            with pytest.raises(TransferFailed, match="not a file path"):
                await client.upload(b"data", "some/dir/")
            (root / "exists").mkdir()
            with pytest.raises(TransferFailed, match="creating 'exists'"):
                await client.mkdir("exists", parents=False)
            with pytest.raises(TransferFailed, match="listing 'nowhere'"):
                await client.listdir("nowhere")
            return info.value

    error = run(scenario())
    assert "uploading 'missing-dir/report.csv'" in str(error)
    assert sorted(p.name for p in root.iterdir()) == ["exists"]


def test_server_with_several_host_keys_presents_the_pinned_one(
    root: Path, server_key: asyncssh.SSHKey, pinned: HostKey
) -> None:
    ed25519 = asyncssh.generate_private_key("ssh-ed25519")

    async def scenario() -> list[str]:
        # the server prefers Ed25519, but the client asks for the pinned ECDSA key first
        async with (
            sftp_server(root, ed25519, server_key) as (port, _log),
            await connect(
                "127.0.0.1", port, USER, PASSWORD, pinned, timeouts=FAST, destinations=LOOPBACK
            ) as client,
        ):
            return await client.listdir()

    assert run(scenario()) == []


# -- the wrong key -------------------------------------------------------------------------------


def test_wrong_key_is_refused_before_any_credential_is_sent(
    root: Path, server_key: asyncssh.SSHKey, other_key: HostKey, pinned: HostKey
) -> None:
    async def scenario() -> tuple[HostKeyMismatch, AuthLog]:
        async with sftp_server(root, server_key) as (port, log):
            error = await refused(HostKeyMismatch, port, other_key)
            await asyncio.sleep(0.05)  # let the server side finish handling the disconnect
            return error, log

    error, log = run(scenario())
    assert log.connections == 1  # the server was reached...
    assert log.auth_started == []  # ...but never saw a username
    assert log.password_attempts == 0  # ...nor a password
    text = str(error)
    assert other_key.sha256_fingerprint() in text  # expected
    assert pinned.sha256_fingerprint() in text  # presented: the server's real key
    assert error.expected_fingerprint == other_key.sha256_fingerprint()
    assert error.presented_fingerprint == pinned.sha256_fingerprint()
    assert PASSWORD not in all_text(error)
    assert list(root.iterdir()) == []


def test_pinned_key_type_the_server_lacks_is_refused(
    root: Path, server_key: asyncssh.SSHKey, pinned: HostKey
) -> None:
    ed25519 = parse_host_key(
        asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    )

    async def scenario() -> tuple[HostKeyMismatch, AuthLog]:
        async with sftp_server(root, server_key) as (port, log):
            error = await refused(HostKeyMismatch, port, ed25519)
            return error, log

    error, log = run(scenario())
    assert error.presented_fingerprint == pinned.sha256_fingerprint()
    assert log.auth_started == []


def test_known_hosts_and_config_in_home_are_ignored(
    root: Path,
    server_key: asyncssh.SSHKey,
    other_key: HostKey,
    pinned: HostKey,
    empty_home: Path,
) -> None:
    """A ~/.ssh/known_hosts that trusts the server does not override the pin."""

    async def scenario() -> AuthLog:
        async with sftp_server(root, server_key) as (port, log):
            (empty_home / ".ssh/known_hosts").write_text(f"[127.0.0.1]:{port} {pinned.openssh}\n")
            (empty_home / ".ssh/config").write_text("Host *\n  User intruder\n")
            await refused(HostKeyMismatch, port, other_key)
            async with await connect(
                "127.0.0.1", port, USER, PASSWORD, pinned, timeouts=FAST, destinations=LOOPBACK
            ) as client:
                await client.listdir()
            return log

    log = run(scenario())
    assert log.auth_started == [USER]  # not the config's "intruder"


# -- authentication and reachability ---------------------------------------------------------------


def test_wrong_password_is_a_clear_error(
    root: Path, server_key: asyncssh.SSHKey, pinned: HostKey
) -> None:
    wrong = "Not-the-pa55word-41"

    async def scenario() -> tuple[AuthenticationFailed, AuthLog]:
        async with sftp_server(root, server_key) as (port, log):
            error = await refused(AuthenticationFailed, port, pinned, password=wrong)
            return error, log

    error, log = run(scenario())
    assert str(error).startswith("the SFTP server 127.0.0.1:")
    assert f"refused the password for user {USER!r}" in str(error)
    assert wrong not in all_text(error)
    assert PASSWORD not in all_text(error)
    assert log.password_attempts >= 1


def test_unreachable_host_is_a_connection_error() -> None:
    port = free_port()  # nothing listens there now

    error = run(refused(ConnectionFailed, port, _any_key()))
    assert f"cannot reach 127.0.0.1:{port}" in str(error)
    assert PASSWORD not in all_text(error)


def test_silent_server_times_out() -> None:
    async def scenario() -> tuple[ConnectionFailed, float]:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # accept, say nothing
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        try:
            error = await refused(
                ConnectionFailed, port, _any_key(), timeouts=Timeouts(connect=0.5, operation=1)
            )
        finally:
            server.close()
        return error, time.monotonic() - started

    error, elapsed = run(scenario())
    assert "within 0.5 s" in str(error)
    assert elapsed < 3


def test_not_an_ssh_server_is_a_connection_error() -> None:
    async def scenario() -> ConnectionFailed:
        async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(http, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            error = await refused(ConnectionFailed, port, _any_key())
        finally:
            server.close()
        return error

    error = run(scenario())
    assert "closed the connection before an SSH session was set up" in str(error)
    assert isinstance(error, SftpError)


def _any_key() -> HostKey:
    return parse_host_key(
        asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    )


# -- the "Test" action --------------------------------------------------------------------------


def test_check_connection_verdicts(
    root: Path, server_key: asyncssh.SSHKey, pinned: HostKey, other_key: HostKey
) -> None:
    async def scenario() -> dict[str, Any]:
        async with sftp_server(root, server_key) as (port, _log):
            return {
                "ok": await check_connection(
                    "127.0.0.1", port, USER, PASSWORD, pinned, timeouts=FAST, destinations=LOOPBACK
                ),
                "key": await check_connection(
                    "127.0.0.1",
                    port,
                    USER,
                    PASSWORD,
                    other_key,
                    timeouts=FAST,
                    destinations=LOOPBACK,
                ),
                "password": await check_connection(
                    "127.0.0.1",
                    port,
                    USER,
                    "wrong-password-x",
                    pinned,
                    timeouts=FAST,
                    destinations=LOOPBACK,
                ),
                "down": await check_connection(
                    "127.0.0.1",
                    free_port(),
                    USER,
                    PASSWORD,
                    pinned,
                    timeouts=FAST,
                    destinations=LOOPBACK,
                ),
            }

    (root / "a.csv").write_text("x")
    verdicts = run(scenario())
    assert verdicts["ok"].ok
    assert verdicts["ok"].code == "ok"
    assert pinned.sha256_fingerprint() in verdicts["ok"].detail
    assert "1 entries" in verdicts["ok"].detail
    assert (verdicts["key"].ok, verdicts["key"].code) == (False, "host_key_mismatch")
    assert (verdicts["password"].ok, verdicts["password"].code) == (
        False,
        "authentication_failed",
    )
    assert (verdicts["down"].ok, verdicts["down"].code) == (False, "connection_failed")
    for verdict in verdicts.values():
        assert PASSWORD not in repr(verdict)
        assert "wrong-password-x" not in repr(verdict)


def test_credential_helpers(root: Path, server_key: asyncssh.SSHKey, pinned: HostKey) -> None:
    async def scenario() -> tuple[bool, str]:
        async with sftp_server(root, server_key) as (port, _log):
            cred = validate_create(
                {
                    "name": "Exports",
                    "protocol": "SFTP",
                    "url": f"sftp://127.0.0.1:{port}/",
                    "authorization": {
                        "username": USER,
                        "password": PASSWORD,
                        "host_key": pinned.openssh,
                    },
                },
                destinations=LOOPBACK,
            )
            verdict = await check_credential(cred, timeouts=FAST, destinations=LOOPBACK)
            client: SftpClient = await connect_credential(
                cred, timeouts=FAST, destinations=LOOPBACK
            )
            async with client:
                await client.upload(b"ok", "via-credential.txt")
                shown = repr(client)
            return verdict.ok, shown

    ok, shown = run(scenario())
    assert ok
    assert (root / "via-credential.txt").read_bytes() == b"ok"
    assert PASSWORD not in shown


def test_credential_helpers_refuse_an_https_credential() -> None:
    cred = validate_create(
        {"name": "x", "protocol": "HTTPS", "url": "https://h/", "authorization": {"type": "NONE"}}
    )
    with pytest.raises(ValueError, match="not a validated SFTP credential"):
        run(check_credential(cred))


# -- OpenSSH's sshd ----------------------------------------------------------------------------


@dataclass
class Sshd:
    port: int
    host_key: HostKey
    log: Path

    def auth_lines(self) -> list[str]:
        """Log lines in which sshd handled a user authentication request."""
        markers = ("Invalid user", "Failed password", "Failed none", "Accepted", "userauth")
        return [
            line for line in self.log.read_text().splitlines() if any(m in line for m in markers)
        ]


@pytest.fixture
def sshd() -> Iterator[Sshd]:
    """OpenSSH's sshd on a free port, with its own config, host key and log in a tmp dir.

    sshd run by root needs /run/sshd (its privilege separation directory), which the test does
    not create; so as root it runs sshd as ``nobody``, which needs no such directory. An
    unprivileged sshd cannot check system passwords, and the test creates no account: the
    right-key case therefore proves that the client got past the host key to authentication.
    """
    if not SSHD.exists():
        pytest.skip("OpenSSH sshd is not installed (/usr/sbin/sshd); asyncssh's server covers it")
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    conf = Path(tempfile.mkdtemp(prefix="credgate-sshd-"))  # /tmp, reachable by nobody
    try:
        key = conf / "ssh_host_ecdsa_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
        port = free_port()
        config = conf / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
            f"PidFile {conf / 'sshd.pid'}\nUsePAM no\nStrictModes no\n"
            "PasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication no\nAuthorizedKeysFile none\n"
            "Subsystem sftp internal-sftp\nLogLevel DEBUG1\n"
        )
        user: str | None = None
        if os.geteuid() == 0:
            user = "nobody"
            conf.chmod(0o755)
            for path in (conf, *conf.iterdir()):
                shutil.chown(path, user)
        log = conf / "sshd.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                user=user,
            )
        try:
            _wait_for_port(port, process, log)
            yield Sshd(port, parse_host_key(Path(f"{key}.pub").read_text()), log)
        finally:
            process.terminate()
            process.wait(timeout=5)
    finally:
        shutil.rmtree(conf, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not start: {log.read_text()}")
            time.sleep(0.05)


def test_sshd_right_key_reaches_authentication(sshd: Sshd) -> None:
    error = run(
        refused(AuthenticationFailed, sshd.port, sshd.host_key, user="credgate-no-such-user")
    )
    assert PASSWORD not in all_text(error)
    assert sshd.auth_lines()  # sshd did receive the authentication request


def test_sshd_wrong_key_is_refused(sshd: Sshd, other_key: HostKey) -> None:
    error = run(refused(HostKeyMismatch, sshd.port, other_key))
    assert error.presented_fingerprint == sshd.host_key.sha256_fingerprint()
    assert PASSWORD not in all_text(error)
    time.sleep(0.1)  # let sshd write its log lines for the closed connection
    log = sshd.log.read_text()
    assert "Connection from 127.0.0.1" in log  # it was reached...
    assert sshd.auth_lines() == []  # ...and saw no authentication request


def test_public_names() -> None:
    import credgate.connectors.sftp as module

    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert set(module.__all__) == defined_here
