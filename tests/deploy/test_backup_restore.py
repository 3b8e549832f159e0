"""``credgate backup`` of a running installation, ``credgate restore`` into a fresh home: the
restored copy issues tokens to the old credentials with the old signing key, decrypts the old
connector secrets and lets the old administrator sign in."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credgate.app import create_app
from credgate.cli import app
from credgate.connectors.credentials.services import ConnectorCredentialService
from credgate.container import Container
from credgate.core.config import load_settings
from support import ADMIN_PASSWORD, LiveServer, free_port, make_key_material

CONNECTOR_PASSWORD = "s3cret-connector-password"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One installation home at a time, as `CREDGATE_DATA_DIR` says."""
    for name in list(os.environ):
        if name.startswith("CREDGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CREDGATE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("CREDGATE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(tmp_path / "a" / "var"))
    return tmp_path


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def _token(url: str, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{url}/oauth2/default/v1/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


@pytest.mark.slow
def test_backup_of_a_running_instance_restores_into_a_fresh_home(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = home / "connector.json"
    connector.write_text(
        json.dumps(
            {
                "name": "ServiceNow",
                "protocol": "HTTPS",
                "url": "https://ven01063.service-now.com/",
                "authorization": {"type": "BASIC", "username": "credgate"},
            }
        )
    )
    assert run("init")[0] == 0
    code, out, err = run("api-credentials", "create", "--name", "sync", "-p", "nql", "--json")
    assert code == 0, err
    client_id, secret = json.loads(out)["client_id"], json.loads(out)["client_secret"]
    code, out, err = run(
        "connector-credentials", "create", "--file", str(connector), "--secret-stdin", "--json",
        input=CONNECTOR_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    connector_id = json.loads(out)["id"]

    archive = home / "backups" / "credgate.tar.gz"
    with LiveServer(create_app(load_settings()), free_port()) as original:
        issued = _token(original.url, client_id, secret)
        assert issued.status_code == 200
        kid = _kid(issued.json()["access_token"])
        # Online: the copy is taken while the server runs and writes.
        code, out, err = run("backup", str(archive))
        assert code == 0, err
        assert "saved credgate.db, master.key, pepper.key" in out
        assert _token(original.url, client_id, secret).status_code == 200

    assert archive.stat().st_mode & 0o077 == 0, "the archive holds the keys: owner only"
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == [
            "credgate.db",
            "manifest.json",
            "master.key",
            "pepper.key",
        ]

    fresh = home / "b" / "var"
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(fresh))
    code, out, err = run("restore", str(archive))
    assert code == 0, err
    assert "the keys match the database" in out
    assert (fresh / "credgate.db").stat().st_mode & 0o077 == 0
    code, _, err = run("restore", str(archive))
    assert code == 2, "a restore never overwrites"
    assert "exists" in err

    container = Container.open(load_settings())
    with LiveServer(create_app(container=container), free_port()) as copy:
        issued = _token(copy.url, client_id, secret)
        assert issued.status_code == 200, issued.text
        assert _kid(issued.json()["access_token"]) == kid, "signed with the restored key"
        signed_in = httpx.post(
            f"{copy.url}/admin/api/v1/session",
            json={"username": "admin", "password": ADMIN_PASSWORD},
        )
        assert signed_in.status_code == 200, signed_in.text
        secrets = container.services.get(ConnectorCredentialService).load_secrets(connector_id)
        assert secrets["password"] == CONNECTOR_PASSWORD


def test_restore_without_keys_needs_them_and_leaves_nothing_behind(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init")[0] == 0
    archive = home / "nokeys.tar.gz"
    code, out, err = run("backup", "--no-keys", str(archive))
    assert code == 0, err
    assert "no key file" in out
    fresh = home / "b" / "var"
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(fresh))
    code, _, err = run("restore", str(archive))
    assert code == 2
    assert "holds no master.key" in err
    assert not (fresh / "credgate.db").exists(), "nothing is left half-restored"

    # The keys kept elsewhere, given as files: the restore goes through.
    fresh.mkdir(mode=0o700, parents=True)
    for key in ("master.key", "pepper.key"):
        (fresh / key).write_bytes((home / "a" / "var" / key).read_bytes())
        (fresh / key).chmod(0o600)
    code, _, err = run("restore", str(archive))
    assert code == 0, err


def test_restore_with_other_keys_is_undone(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("init")[0] == 0
    archive = home / "nokeys.tar.gz"
    assert run("backup", "--no-keys", str(archive))[0] == 0
    fresh = home / "b" / "var"
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(fresh))
    for name, value in make_key_material().items():
        monkeypatch.setenv(f"CREDGATE_{name.upper()}", value)
    code, out, err = run("restore", str(archive))
    assert code == 2, out
    assert "restore undone: the pepper does not match" in err
    assert not (fresh / "credgate.db").exists()


def test_backup_refuses_what_it_cannot_save(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("backup", str(home / "x.tar.gz"))
    assert code == 2
    assert "run `credgate init` first" in err
    monkeypatch.setenv("CREDGATE_DATABASE_URL", "postgresql+psycopg://credgate@127.0.0.1:1/x")
    code, _, err = run("backup", str(home / "x.tar.gz"))
    assert code == 2
    assert "pg_dump" in err
    (home / "junk.tar.gz").write_text("not an archive")
    code, _, err = run("restore", str(home / "junk.tar.gz"))
    assert code == 2
    assert "not a credgate backup" in err


def test_restore_refuses_a_stale_write_ahead_log(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init")[0] == 0
    archive = home / "full.tar.gz"
    assert run("backup", str(archive))[0] == 0
    fresh = home / "b" / "var"
    fresh.mkdir(parents=True, mode=0o700)
    (fresh / "credgate.db-wal").write_bytes(b"left over from another database")
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(fresh))
    code, _, err = run("restore", str(archive))
    assert code == 2
    assert "credgate.db-wal exists" in err
    assert not (fresh / "credgate.db").exists()


@pytest.mark.postgres
def test_postgresql_pg_dump_and_the_keys_restore_into_a_new_database(
    home: Path, monkeypatch: pytest.MonkeyPatch, fresh_pg: Callable[[], str]
) -> None:
    """The documented steps: pg_dump, `credgate backup --keys-only`; pg_restore into a new
    database, `credgate restore` of the keys into a new home."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump is not installed (Debian: apt-get install postgresql-client)")
    original, copy = fresh_pg(), fresh_pg()
    monkeypatch.setenv("CREDGATE_DATABASE_URL", original)
    assert run("init")[0] == 0
    code, out, err = run("api-credentials", "create", "--name", "pg", "-p", "nql", "--json")
    assert code == 0, err
    client_id, secret = json.loads(out)["client_id"], json.loads(out)["client_secret"]
    keys = home / "keys.tar.gz"
    code, _, err = run("backup", "--keys-only", str(keys))
    assert code == 0, err
    with tarfile.open(keys) as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "master.key", "pepper.key"]
    dump = home / "credgate.dump"
    libpq = {"original": original, "copy": copy}
    libpq = {k: v.replace("postgresql+psycopg://", "postgresql://") for k, v in libpq.items()}
    for command in (
        ["pg_dump", "--format=custom", f"--file={dump}", libpq["original"]],
        ["pg_restore", "--no-owner", f"--dbname={libpq['copy']}", str(dump)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr

    monkeypatch.setenv("CREDGATE_DATABASE_URL", copy)
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(home / "b" / "var"))
    code, _, err = run("restore", str(keys))
    assert code == 0, err
    container = Container.open(load_settings())
    try:
        with TestClient(create_app(container=container)) as client:
            issued = client.post(
                "/oauth2/default/v1/token",
                auth=(client_id, secret),
                data={"grant_type": "client_credentials"},
            )
            assert issued.status_code == 200, issued.text
    finally:
        container.close()
