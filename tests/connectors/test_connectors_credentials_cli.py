"""`credgate connector-credentials …` and `credgate vault …`: secrets go in unechoed and never
come out; rotation from the key file and from the environment; a wrong key stops with a reason."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from credgate.cli import app
from credgate.connectors.credentials import MASK
from credgate.connectors.credentials.models import ConnectorCredentialSecret
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.db import Database
from support import cli_env

PASSWORD = "Pw-cli-4b3a2c1d"
TOKEN = "Tk-cli-9e8f7a6b"


def env_of(container: Container, **extra: str | None) -> dict[str, str | None]:
    return cli_env(container, **extra)


def run(env: dict[str, str | None], *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


def test_create_show_list_update_delete(container: Container, tmp_path: Path) -> None:
    env = env_of(container)
    created = run(
        env,
        "connector-credentials",
        "create",
        "--name",
        "ServiceNow",
        "--protocol",
        "HTTPS",
        "--url",
        "https://ven01063.service-now.com/",
        "--type",
        "BASIC",
        "--field",
        "username=svc",
        "--secret-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["authorization"] == {"type": "BASIC", "username": "svc", "password": MASK}
    credential_id = data["id"]
    assert dict(container.connector_credentials.load_secrets(credential_id)) == {
        "password": PASSWORD
    }

    # a prompt that does not echo
    prompted = run(
        env,
        "connector-credentials",
        "create",
        "--name",
        "Freshservice",
        "--protocol",
        "https",
        "--url",
        "https://api.freshservice.com/",
        "--type",
        "bearer",
        stdin=TOKEN + "\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert "token" in prompted.output.lower()
    assert TOKEN not in prompted.output
    fresh = container.connector_credentials.find("Freshservice").id
    assert dict(container.connector_credentials.load_secrets(fresh)) == {"token": TOKEN}

    # from a file
    body = {
        "name": "Exports",
        "protocol": "SFTP",
        "url": "sftp://sftp.example.com:2222/",
        "authorization": {
            "username": "exporter",
            "password": "Pw-file-1122",
            "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        },
    }
    path = tmp_path / "exports.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    from_file = run(env, "connector-credentials", "create", "--file", str(path))
    assert from_file.exit_code == 0, from_file.output
    assert "Pw-file-1122" not in from_file.output

    listed = run(env, "connector-credentials", "list", "--protocol", "SFTP", "--json")
    assert listed.exit_code == 0, listed.output
    assert [item["name"] for item in json.loads(listed.output)] == ["Exports"]
    everything = run(env, "connector-credentials", "list")
    assert "3 of 3 connector credential(s)" in everything.output
    first = run(env, "connector-credentials", "list", "--limit", "1")
    assert "1 of 3 connector credential(s)" in first.stdout
    cursor = re.search(r"--cursor (\S+)", first.stderr)
    assert cursor
    rest = run(env, "connector-credentials", "list", "--cursor", cursor.group(1), "--json")
    assert len(json.loads(rest.stdout)) == 2
    older = run(env, "connector-credentials", "list", "--offset", "2", "--limit", "1", "--json")
    assert (json.loads(older.stdout)["offset"], json.loads(older.stdout)["total"]) == (2, 3)
    found = run(env, "connector-credentials", "list", "--search", "servicenow", "--json")
    assert [item["name"] for item in json.loads(found.stdout)] == ["ServiceNow"]
    bad = run(env, "connector-credentials", "list", "--cursor", "%")
    assert bad.exit_code == 2
    assert "cursor: is not a cursor this list gave" in bad.stderr

    shown = run(env, "connector-credentials", "show", "ServiceNow")
    assert shown.exit_code == 0
    assert "svc" in shown.output
    assert MASK in shown.output
    assert PASSWORD not in shown.output

    # update keeps the secret behind the mask, or takes a new one
    renamed = run(env, "connector-credentials", "update", "ServiceNow", "--field", "username=svc2")
    assert renamed.exit_code == 0, renamed.output
    assert dict(container.connector_credentials.load_secrets(credential_id)) == {
        "password": PASSWORD
    }
    assert container.connector_credentials.get(credential_id).masked["authorization"][
        "username"
    ] == ("svc2")
    changed = run(
        env,
        "connector-credentials",
        "update",
        credential_id,
        "--change-secret",
        stdin="Pw-cli-new\n",
    )
    assert changed.exit_code == 0, changed.output
    assert "Pw-cli-new" not in changed.output
    assert dict(container.connector_credentials.load_secrets(credential_id)) == {
        "password": "Pw-cli-new"
    }
    retyped = run(
        env,
        "connector-credentials",
        "update",
        credential_id,
        "--type",
        "BEARER",
        "--field",
        "header_prefix=Token",
        "--secret-stdin",
        stdin="Tk-retyped\n",
    )
    assert retyped.exit_code == 0, retyped.output
    assert dict(container.connector_credentials.load_secrets(credential_id)) == {
        "token": "Tk-retyped"
    }

    # delete while a connector uses it
    container.connectors.create(
        name="Incidents", kind="webhook", credential_id=credential_id, actor=Actor("t", "t")
    )
    refused = run(env, "connector-credentials", "delete", "ServiceNow", stdin="n\n")
    assert refused.exit_code == 1
    assert "1 connector(s) use it" in refused.output
    deleted = run(env, "connector-credentials", "delete", "ServiceNow", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert [c.state for c in container.connectors.list()] == ["credential missing"]


def test_mistakes_are_listed_and_nothing_is_saved(container: Container) -> None:
    env = env_of(container)
    result = run(
        env,
        "connector-credentials",
        "create",
        "--name",
        "x",
        "--protocol",
        "SFTP",
        "--url",
        "sftp://host/",
        "--field",
        "host_key=da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1",
        "--field",
        "username=u",
        "--secret-stdin",
        stdin="Pw-never-saved\n",
    )
    assert result.exit_code == 2
    assert "url:" in result.output
    assert "authorization.host_key:" in result.output
    assert "Pw-never-saved" not in result.output
    assert container.connector_credentials.list().total == 0
    bad_field = run(env, "connector-credentials", "create", "--field", "nonsense")
    assert bad_field.exit_code == 2
    assert "NAME=VALUE" in bad_field.output


def test_wrong_master_key_stops_the_cli(container: Container) -> None:
    wrong = f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    result = run(env_of(container, CREDGATE_MASTER_KEY=wrong), "connector-credentials", "list")
    assert result.exit_code == 2
    assert "master key version 1 does not match" in result.output
    status = run(env_of(container, CREDGATE_MASTER_KEY=wrong), "vault", "rotate-key")
    assert status.exit_code == 2
    assert "does not match" in status.output


def test_rotate_key_from_the_environment_prints_the_new_value(container: Container) -> None:
    env = env_of(container)
    created = container.connector_credentials.create(
        {
            "name": "Freshservice",
            "protocol": "HTTPS",
            "url": "https://api.freshservice.com/",
            "authorization": {"type": "BEARER", "token": TOKEN},
        },
        actor=Actor("t", "t"),
    )
    proposed = run(env, "vault", "rotate-key")
    assert proposed.exit_code == 0, proposed.output
    line = next(li for li in proposed.output.splitlines() if li.startswith("CREDGATE_MASTER_KEY="))
    value = line.removeprefix("CREDGATE_MASTER_KEY=")
    assert value.startswith("2:")
    assert value.endswith(str(env["CREDGATE_MASTER_KEY"]))
    with container.db.session() as session:
        assert all(
            c.startswith("v1.1.")
            for c in session.scalars(select(ConnectorCredentialSecret.ciphertext))
        )
    done = run({**env, "CREDGATE_MASTER_KEY": value}, "vault", "reencrypt")
    assert done.exit_code == 0, done.output
    assert "you may remove the older entries" in done.output
    with container.db.session() as session:
        assert all(
            c.startswith("v1.2.")
            for c in session.scalars(select(ConnectorCredentialSecret.ciphertext))
        )
    status = run({**env, "CREDGATE_MASTER_KEY": value.split(",")[0]}, "vault", "status", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["values_by_version"] == {"2": 2}
    assert TOKEN not in done.output + status.output
    assert created.id


def test_rotate_key_file_with_progress(tmp_path: Path, key_material: dict[str, str]) -> None:
    env: dict[str, str | None] = {
        "CREDGATE_DATA_DIR": str(tmp_path / "var"),
        "CREDGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'file.db'}",
        "CREDGATE_MASTER_KEY": None,
        "CREDGATE_PEPPER": key_material["pepper"],
        "CREDGATE_ADMIN_PASSWORD": "correct horse battery staple",
        "CREDGATE_CONFIG_FILE": None,
    }
    assert run(env, "init").exit_code == 0
    assert (
        run(
            env,
            "connector-credentials",
            "create",
            "--name",
            "Jira",
            "--protocol",
            "HTTPS",
            "--url",
            "https://myco.atlassian.net/",
            "--type",
            "BASIC",
            "--field",
            "username=u",
            "--secret-stdin",
            stdin=PASSWORD + "\n",
        ).exit_code
        == 0
    )
    rotated = run(env, "vault", "rotate-key", "--drop-old")
    assert rotated.exit_code == 0, rotated.output
    assert "added master key version 2" in rotated.output
    assert "re-encrypted 2 value(s)" in rotated.output  # the password and the signing key
    assert "now holds only version 2" in rotated.output
    key_file = tmp_path / "var" / "master.key"
    assert key_file.read_text().startswith("2:")
    assert "," not in key_file.read_text()
    assert key_file.stat().st_mode & 0o777 == 0o600
    shown = run(env, "connector-credentials", "show", "Jira", "--json")
    assert shown.exit_code == 0, shown.output
    settings_db = Database(f"sqlite:///{tmp_path / 'file.db'}")
    try:
        with settings_db.session() as session:
            assert all(
                c.startswith("v1.2.")
                for c in session.scalars(select(ConnectorCredentialSecret.ciphertext))
            )
    finally:
        settings_db.dispose()
