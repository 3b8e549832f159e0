"""SFTP credentials through the outbound container: "Test" from the admin API and the CLI against
asyncssh's server on loopback, and an upload through ``container.connections.sftp_connect``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from outbound_peers import SFTP_PASSWORD, SFTP_USER, SshPeer, assert_no_secrets
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app as cli_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import cli_env

ACTOR = Actor("tests", "pytest")


@pytest.fixture(scope="module")
def server_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture(autouse=True)
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def ssh(tmp_path: Path, server_key: asyncssh.SSHKey) -> Iterator[SshPeer]:
    root = tmp_path / "chroot"
    root.mkdir()
    (root / "existing.csv").write_text("a,b\n")
    with SshPeer(root, server_key) as peer:
        yield peer


def sftp_credential(
    container: Container, port: int, key: asyncssh.SSHKey, *, password: str = SFTP_PASSWORD
) -> str:
    line = key.export_public_key("openssh").decode().strip()
    return container.connector_credentials.create(
        {
            "name": f"files-{port}-{len(password)}",
            "protocol": "SFTP",
            "url": f"sftp://127.0.0.1:{port}/",
            "authorization": {
                "type": "BASIC",
                "username": SFTP_USER,
                "password": password,
                "host_key": line,
            },
        },
        actor=ACTOR,
    ).id


def test_right_key_passes_the_test_and_uploads(
    container: Container,
    admin_client: TestClient,
    ssh: SshPeer,
    server_key: asyncssh.SSHKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    credential_id = sftp_credential(container, ssh.port, server_key)
    answer = admin_client.post(f"/admin/api/v1/connector-credentials/{credential_id}/test")
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert verdict["ok"] is True
    assert verdict["code"] == "ok"
    assert "the home directory has 1 entries" in verdict["detail"]
    shown = admin_client.get(f"/admin/api/v1/connector-credentials/{credential_id}").json()
    assert shown["last_test"]["ok"] is True

    async def upload() -> list[str]:
        async with await container.connections.sftp_connect(credential_id) as client:
            await client.upload(b"x,y\n", "export.csv")
            return sorted(await client.listdir("."))

    assert asyncio.run(upload()) == ["existing.csv", "export.csv"]
    assert (ssh.root / "export.csv").read_bytes() == b"x,y\n"
    assert assert_no_secrets(caplog.records, [SFTP_PASSWORD]) > 0


def test_wrong_pinned_key_is_refused_and_recorded(
    container: Container, admin_client: TestClient, ssh: SshPeer
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    credential_id = sftp_credential(container, ssh.port, other)
    verdict = admin_client.post(f"/admin/api/v1/connector-credentials/{credential_id}/test").json()
    assert verdict["ok"] is False
    assert verdict["code"] == "host_key_mismatch"
    expected = other.export_public_key("openssh").decode()
    assert "SHA256:" in verdict["detail"]
    assert SFTP_PASSWORD not in verdict["detail"]
    assert expected not in verdict["detail"]
    assert ssh.log.auth_started == []
    assert ssh.log.password_attempts == 0
    shown = admin_client.get(f"/admin/api/v1/connector-credentials/{credential_id}").json()
    assert shown["last_test"] == {
        "at": shown["last_test"]["at"],
        "ok": False,
        "detail": verdict["detail"],
    }


def test_wrong_password_from_the_cli(
    container: Container, ssh: SshPeer, server_key: asyncssh.SSHKey
) -> None:
    credential_id = sftp_credential(container, ssh.port, server_key, password="not-the-password")
    name = container.connector_credentials.get(credential_id).name
    env = cli_env(container)
    result = CliRunner().invoke(cli_app, ["connector-credentials", "test", name], env=env)
    assert result.exit_code == 1
    assert result.stdout.startswith("FAILED: ")
    assert "not-the-password" not in result.output
    assert container.connector_credentials.get(credential_id).last_test_ok is False
    good = sftp_credential(container, ssh.port, server_key)
    result = CliRunner().invoke(cli_app, ["connector-credentials", "test", good, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.output
