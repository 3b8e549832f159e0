"""A created secret is shown once and appears nowhere afterwards: not in the database (file or
dump), not in the logs, not in any later response, not in a repr."""

from __future__ import annotations

import logging
import shutil
import subprocess

import pytest
from sqlalchemy import inspect, select, text
from starlette.testclient import TestClient

from credgate.apicredentials.services import CreatedSecret
from credgate.container import Container
from credgate.core.audit.services import Actor

ACTOR = Actor("tests", "pytest")


def database_text(container: Container, backend: str) -> bytes:
    """Everything the database holds, as bytes: the raw file(s) for SQLite, a dump for PostgreSQL."""
    if backend == "sqlite":
        path = container.db.url.database
        assert path
        container.db.dispose()  # checkpoint-free read: include the WAL file too
        data = b""
        for suffix in ("", "-wal", "-shm"):
            try:
                with open(path + suffix, "rb") as handle:
                    data += handle.read()
            except FileNotFoundError:
                pass
        return data
    pg_dump = shutil.which("pg_dump")
    url = container.db.url
    if pg_dump:
        return subprocess.run(
            [
                pg_dump,
                "-h",
                url.host or "127.0.0.1",
                "-U",
                url.username or "postgres",
                "-d",
                url.database or "",
            ],
            check=True,
            capture_output=True,
        ).stdout
    chunks = []
    with container.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            # Table names come from the database's own catalogue, not from input.
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks).encode()


def test_secret_is_shown_once_and_found_nowhere_after(
    admin_client: TestClient, container: Container, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = admin_client.post(
        "/admin/api/v1/api-credentials",
        json={"name": "scan me", "permissions": ["nql", "workflows"]},
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    regenerated = admin_client.post(
        f"/admin/api/v1/api-credentials/{client_id}/regenerate", json={"overlap_seconds": 60}
    )
    new_secret = regenerated.json()["client_secret"]
    token = admin_client.post(
        "/api/v1/token", auth=(client_id, new_secret), headers={"Authorization": ""}
    ).json()
    cli_created: CreatedSecret = container.api_credentials.create(
        name="cli made", permissions=["spark"], actor=ACTOR
    )
    secrets = [secret, new_secret, cli_created.client_secret]

    later = [
        admin_client.get("/admin/api/v1/api-credentials").text,
        admin_client.get(f"/admin/api/v1/api-credentials/{client_id}").text,
        admin_client.patch(
            f"/admin/api/v1/api-credentials/{client_id}", json={"description": "x"}
        ).text,
        admin_client.get("/admin/api/v1/audit-events").text,
        admin_client.post(
            "/api/v1/token", auth=(client_id, "cgs_wrong"), headers={"Authorization": ""}
        ).text,
        repr(cli_created),
        repr(container.registry.get(client_id)),
        repr(container),
    ]
    logs = caplog.text
    dump = database_text(container, backend)
    for value in secrets:
        assert value not in logs
        for body in later:
            assert value not in body
        assert value.encode() not in dump
        # Not even a recognisable fragment of it.
        assert value[4:24].encode() not in dump
    assert token["access_token"] not in logs


def test_stored_value_is_the_keyed_hash(container: Container) -> None:
    from credgate.apicredentials.models import ApiCredentialSecret

    created = container.api_credentials.create(name="hash", permissions=["nql"], actor=ACTOR)
    with container.db.session() as session:
        stored = session.scalars(select(ApiCredentialSecret.secret_hash)).all()
    assert stored == [container.hasher.hash(created.client_secret)]
    assert len(stored[0]) == 64


def test_secrets_compare_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    """Secret checks go through hmac.compare_digest (never ==)."""
    import hmac

    import credgate.oauth.clients as clients
    import credgate.security.secrets as secrets_module

    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(clients.hmac, "compare_digest", spy)
    monkeypatch.setattr(secrets_module.hmac, "compare_digest", spy)
    created = container.api_credentials.create(name="ct", permissions=["nql"], actor=ACTOR)
    record = container.registry.get(created.credential.client_id)
    assert record is not None
    assert record.check_secret(container.hasher, created.client_secret, 0)
    # One character changed (a different one whatever the secret ends with: 1 time in 62 it is x).
    last = "y" if created.client_secret.endswith("x") else "x"
    assert not record.check_secret(container.hasher, created.client_secret[:-1] + last, 0)
    assert len(calls) == 2
    assert container.hasher.verify("abc", container.hasher.hash("abc"))
    assert len(calls) == 3


def test_log_redaction_masks_secrets_and_tokens() -> None:
    from credgate.core.logs import redact
    from credgate.security.secrets import generate_secret

    secret = generate_secret()
    jwt_like = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4eHh4eHh4eCJ9.c2lnbmF0dXJlc2ln"
    line = f"client_secret={secret} Authorization: Bearer {jwt_like} password=hunter2hunter2"
    cleaned = redact(line)
    assert secret not in cleaned
    assert jwt_like not in cleaned
    assert "hunter2hunter2" not in cleaned
