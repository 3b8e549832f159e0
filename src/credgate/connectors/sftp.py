"""SFTP client for data exporters: the pinned host key or nothing, password authentication only.

The server's host key is checked during the key exchange (RFC 4253 section 8: the server signs
the exchange hash with its host key, and the client must check that the key really is the
server's). That happens before the user authentication protocol (RFC 4252) starts, so a server
whose key is not the pinned one never sees the username, let alone the password.

How the pin is enforced:

- asyncssh's trust list (``known_hosts``) holds the pinned key and nothing else; ``~/.ssh``
  (known_hosts, config, keys, certificates) and any SSH agent are never read.
- The host-key algorithms offered put the pinned key's own algorithms first, so a server that
  has several host keys presents the pinned one (RFC 4253 section 7.1: the client's order
  decides). The others follow only so that a server without the pinned key type still shows a
  key, whose fingerprint then appears in the error; such a key is always refused. RSA keys are
  used with SHA-2 signatures only (RFC 8332), as OpenSSH has done since 8.8.
- Once connected, the negotiated host key is compared with the pin once more.
- The only authentication method is ``password`` (RFC 4252 section 8).

Where it connects: the host is resolved once and each address checked against the destination
policy (:mod:`credgate.core.destinations`); the TCP connection is opened to a checked
address and handed to asyncssh, so a DNS answer that changes in between reaches nothing.

Exceptions::

    SftpError                   every failure of this module; the message is safe to show
     ├── ConnectionFailed       the host could not be reached, timed out, or SSH failed
     │    └── DestinationNotAllowed   the policy refuses the host's address (nothing was sent)
     ├── HostKeyMismatch        the server's host key is not the pinned one (never retry)
     ├── AuthenticationFailed   the server refused the username and password
     └── TransferFailed         an SFTP operation failed (permissions, missing directory...)

No message ever contains the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import secrets
from collections.abc import Awaitable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TypedDict, TypeVar, Unpack
from urllib.parse import urlsplit

import asyncssh

from credgate.connectors.credentials.schemas import Protocol, ValidatedCredential
from credgate.connectors.hostkeys import HostKey
from credgate.core.destinations import STRICT, DestinationPolicy, DestinationRefused

__all__ = [
    "AuthenticationFailed",
    "ConnectionFailed",
    "DestinationNotAllowed",
    "HostKeyMismatch",
    "SessionOptions",
    "SftpClient",
    "SftpError",
    "Timeouts",
    "TransferFailed",
    "Verdict",
    "check_connection",
    "check_credential",
    "connect",
    "connect_credential",
]

_T = TypeVar("_T")

# Host-key signature algorithms per key type, strongest first; SHA-1 "ssh-rsa" is not offered.
_HOST_KEY_ALGORITHMS: Final[dict[str, tuple[str, ...]]] = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}
_MAX_SERVER_TEXT: Final = 200
_CHUNK: Final = 256 * 1024


class SftpError(Exception):
    """An SFTP connection or operation failed; the message is meant for the administrator."""


class ConnectionFailed(SftpError):
    """The SFTP server could not be reached, did not answer in time, or SSH negotiation failed."""


class DestinationNotAllowed(DestinationRefused, ConnectionFailed):
    """The destination policy refuses the server's address; no connection was attempted."""


class HostKeyMismatch(SftpError):
    """The server presented a host key other than the pinned one; no credential was sent."""

    def __init__(self, host: str, port: int, expected: str, presented: str | None) -> None:
        self.expected_fingerprint = expected
        self.presented_fingerprint = presented
        shown = presented or "a key that could not be read"
        super().__init__(
            f"host key mismatch for {_where(host, port)}: expected {expected}, the server "
            f"presented {shown}; the connection was refused before any credential was sent. If the "
            "server's key was changed on purpose, paste its new key into the credential."
        )


class AuthenticationFailed(SftpError):
    """The server refused the username and password."""


class TransferFailed(SftpError):
    """An SFTP operation (list, create a directory, upload, rename) failed."""


@dataclass(frozen=True)
class Timeouts:
    """Time limits in seconds: reaching the server and signing in, and each operation."""

    connect: float = 15.0
    operation: float = 120.0


@dataclass(frozen=True)
class Verdict:
    """The result of :func:`check_connection`: ``ok``, a stable ``code`` and a sentence."""

    ok: bool
    code: str  # "ok", "connection_failed", "host_key_mismatch", "authentication_failed", ...
    detail: str


class _PinnedHostKeyClient(asyncssh.SSHClient):
    """Records the host key the server presents; never widens the trust list."""

    def __init__(self) -> None:
        self.presented: HostKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        # asyncssh asks only about keys outside the trust list, which holds just the pin.
        self.presented = HostKey.from_asyncssh(key)
        return False


@dataclass(frozen=True, slots=True, eq=False)
class SftpClient:
    """An open, authenticated SFTP session. Use :func:`connect` to get one.

    ``async with await connect(...) as client:`` closes the session on exit.
    """

    connection: asyncssh.SSHClientConnection = field(repr=False)
    sftp: asyncssh.SFTPClient = field(repr=False)
    _: KW_ONLY
    host: str
    port: int
    host_key: HostKey
    timeouts: Timeouts

    def __repr__(self) -> str:
        return (
            f"SftpClient(host={self.host!r}, port={self.port}, host_key={self.host_key.key_type})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self.sftp.exit()
        self.connection.close()
        await self.connection.wait_closed()

    async def listdir(self, path: str = ".") -> list[str]:
        """Names in a remote directory, sorted, without ``.`` and ``..``."""
        names = await self._run(self.sftp.listdir(path), f"listing {path!r}")
        return sorted(str(name) for name in names if name not in (".", ".."))

    async def mkdir(self, path: str, *, parents: bool = True) -> None:
        """Create a remote directory; with ``parents``, missing parents too and no error if
        it exists already (like ``mkdir -p``)."""
        if parents:
            await self._run(self.sftp.makedirs(path, exist_ok=True), f"creating {path!r}")
        else:
            await self._run(self.sftp.mkdir(path), f"creating {path!r}")

    async def upload(self, source: bytes | os.PathLike[str], remote_path: str) -> int:
        """Write ``source`` (bytes, or a local file) to ``remote_path`` atomically.

        The data goes to a hidden temporary file in the same directory, which is then renamed
        over ``remote_path``: with ``posix-rename@openssh.com`` when the server offers it (an
        atomic replace), else with a plain SFTP rename, removing an existing target first
        (SFTP version 3's rename refuses to overwrite). Readers of ``remote_path`` never see a
        partial file. Returns the number of bytes written.
        """
        directory, base = posixpath.split(remote_path)
        if not base or base in (".", ".."):
            raise TransferFailed(f"upload target {remote_path!r} is not a file path")
        temporary = posixpath.join(directory, f".{base}.{secrets.token_hex(6)}.part")
        try:
            size = await self._run(self._write(source, temporary), f"uploading {remote_path!r}")
            await self._run(self._replace(temporary, remote_path), f"renaming to {remote_path!r}")
        except BaseException:
            # it may never have been created; the original error is the one to report
            with contextlib.suppress(asyncssh.Error, asyncssh.SFTPError, OSError, TimeoutError):
                await asyncio.wait_for(self.sftp.remove(temporary), self.timeouts.operation)
            raise
        return size

    async def _write(self, source: bytes | os.PathLike[str], temporary: str) -> int:
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            async with self.sftp.open(temporary, "wb") as remote:
                await remote.write(data)
            return len(data)
        local = Path(source)
        try:
            size = await asyncio.to_thread(os.path.getsize, local)
        except OSError as exc:
            raise TransferFailed(f"cannot read local file {str(local)!r}: {exc.strerror}") from exc
        await self.sftp.put(str(local), temporary, block_size=_CHUNK)
        return size

    async def _replace(self, temporary: str, target: str) -> None:
        try:
            await self.sftp.posix_rename(temporary, target)
        except asyncssh.SFTPOpUnsupported:
            if await self.sftp.exists(target):
                await self.sftp.remove(target)
            await self.sftp.rename(temporary, target)

    async def _run(self, operation: Awaitable[_T], what: str) -> _T:
        try:
            return await asyncio.wait_for(operation, self.timeouts.operation)
        except SftpError:
            raise
        except TimeoutError as exc:
            raise TransferFailed(
                f"{what} on {_where(self.host, self.port)} timed out "
                f"after {self.timeouts.operation:g} s"
            ) from exc
        except asyncssh.SFTPError as exc:
            raise TransferFailed(
                f"{what} on {_where(self.host, self.port)} failed: {_server_text(exc.reason)}"
            ) from exc
        except (asyncssh.Error, OSError) as exc:
            raise TransferFailed(
                f"{what} on {_where(self.host, self.port)} failed: the connection was lost ({exc})"
            ) from exc


async def connect(
    host: str,
    port: int,
    username: str,
    password: str,
    host_key: HostKey,
    *,
    timeouts: Timeouts | None = None,
    destinations: DestinationPolicy = STRICT,
) -> SftpClient:
    """Connect, verify the pinned host key, sign in with the password and start SFTP.

    Raises :class:`DestinationNotAllowed` (before anything is sent), :class:`HostKeyMismatch`
    (before any credential is sent), :class:`AuthenticationFailed` or :class:`ConnectionFailed`.
    """
    timeouts = timeouts or Timeouts()
    client = _PinnedHostKeyClient()
    where = _where(host, port)
    offered = list(_HOST_KEY_ALGORITHMS[host_key.key_type])
    offered += [alg for algs in _HOST_KEY_ALGORITHMS.values() for alg in algs if alg not in offered]
    try:
        async with asyncio.timeout(timeouts.connect):
            sock = await destinations.open_socket(host, port)
            try:
                connection = await asyncssh.connect(
                    sock=sock,
                    client_factory=lambda: client,
                    username=username,
                    password=password,
                    known_hosts=([host_key.to_asyncssh()], [], []),
                    server_host_key_algs=offered,
                    preferred_auth="password",
                    password_auth=True,
                    public_key_auth=False,
                    kbdint_auth=False,
                    host_based_auth=False,
                    gss_auth=False,
                    gss_kex=False,
                    gss_host=None,
                    client_keys=None,
                    client_host_keys=None,
                    agent_path=None,
                    agent_forwarding=False,
                    disable_trivial_auth=True,
                    config=[],
                    x509_trusted_certs=None,
                    x509_trusted_cert_paths=[],
                    connect_timeout=timeouts.connect,
                )
            except BaseException:
                sock.close()  # asyncssh closes the socket once it took it over; not before
                raise
    except DestinationRefused as exc:
        raise DestinationNotAllowed(str(exc)) from None
    except asyncssh.HostKeyNotVerifiable as exc:
        presented = client.presented.sha256_fingerprint() if client.presented else None
        raise HostKeyMismatch(host, port, host_key.sha256_fingerprint(), presented) from exc
    except asyncssh.PermissionDenied as exc:
        raise AuthenticationFailed(
            f"the SFTP server {where} refused the password for user {username!r}"
        ) from exc
    except TimeoutError as exc:
        raise ConnectionFailed(
            f"no SSH session with {where} within {timeouts.connect:g} s"
        ) from exc
    except (asyncssh.ConnectionLost, ConnectionResetError, BrokenPipeError, EOFError) as exc:
        raise ConnectionFailed(
            f"{where} closed the connection before an SSH session was set up (is it an SSH server?)"
        ) from exc
    except asyncssh.DisconnectError as exc:
        text = _scrub(_server_text(exc.reason), password)
        raise ConnectionFailed(f"SSH negotiation with {where} failed: {text}") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectionFailed(f"cannot reach {where}: {reason}") from exc

    presented_key = connection.get_server_host_key()
    if presented_key is None or not host_key.matches(presented_key):  # pragma: no cover
        connection.close()
        seen = HostKey.from_asyncssh(presented_key) if presented_key else None
        raise HostKeyMismatch(
            host, port, host_key.sha256_fingerprint(), seen.sha256_fingerprint() if seen else None
        )
    try:
        async with asyncio.timeout(timeouts.connect):
            sftp = await connection.start_sftp_client()
    except (asyncssh.Error, OSError, TimeoutError) as exc:
        connection.close()
        raise ConnectionFailed(f"the server {where} did not start an SFTP session") from exc
    return SftpClient(connection, sftp, host=host, port=port, host_key=host_key, timeouts=timeouts)


def _credential_target(cred: ValidatedCredential) -> tuple[str, int, str, str, HostKey]:
    """Host, port, username, password and pinned key of a validated SFTP credential."""
    parts = urlsplit(cred.url)
    host_key = cred.host_key
    if (
        cred.protocol is not Protocol.SFTP
        or not parts.hostname
        or parts.port is None
        or host_key is None
    ):
        raise ValueError(f"credential {cred.name!r} is not a validated SFTP credential")
    username = cred.authorization["username"]
    return parts.hostname, parts.port, username, cred.secrets["password"], host_key


class SessionOptions(TypedDict, total=False):
    """The keyword arguments :func:`connect_credential` and :func:`check_credential` pass on."""

    timeouts: Timeouts | None
    destinations: DestinationPolicy


async def connect_credential(
    cred: ValidatedCredential, **options: Unpack[SessionOptions]
) -> SftpClient:
    """:func:`connect` with the address, username, password and host key of a credential."""
    return await connect(*_credential_target(cred), **options)


async def check_credential(cred: ValidatedCredential, **options: Unpack[SessionOptions]) -> Verdict:
    """:func:`check_connection` with the fields of a validated SFTP credential."""
    return await check_connection(*_credential_target(cred), **options)


async def check_connection(
    host: str,
    port: int,
    username: str,
    password: str,
    host_key: HostKey,
    **options: Unpack[SessionOptions],
) -> Verdict:
    """The credential "Test" action: connect, verify the host key, sign in and list the home
    directory. Never raises :class:`SftpError`; returns a verdict instead.

    (Not named ``test_*``: pytest would collect it from any test module that imports it.)
    """
    try:
        async with await connect(host, port, username, password, host_key, **options) as client:
            names = await client.listdir(".")
    except DestinationNotAllowed as exc:
        # Decided before any packet is sent: the same verdict for open and closed ports.
        return Verdict(False, "destination_refused", str(exc))
    except HostKeyMismatch as exc:
        return Verdict(False, "host_key_mismatch", str(exc))
    except AuthenticationFailed as exc:
        return Verdict(False, "authentication_failed", str(exc))
    except ConnectionFailed as exc:
        return Verdict(False, "connection_failed", str(exc))
    except TransferFailed as exc:
        return Verdict(False, "transfer_failed", str(exc))
    return Verdict(
        True,
        "ok",
        f"connected to {_where(host, port)}, host key {host_key.sha256_fingerprint()} verified, "
        f"signed in as {username!r}; the home directory has {len(names)} entries",
    )


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _server_text(reason: object) -> str:
    """Text a server sent, shortened and stripped of control characters."""
    text = "".join(char if char.isprintable() else " " for char in str(reason)).strip()
    if len(text) > _MAX_SERVER_TEXT:
        text = text[:_MAX_SERVER_TEXT] + "..."
    return text or "no reason given"


def _scrub(text: str, password: str) -> str:
    """Remove the password from text that came from elsewhere, in case it was echoed."""
    return text.replace(password, "[hidden]") if password else text
