"""Connector secrets at rest, on SQLite and PostgreSQL: no plaintext in the raw database file or
a dump, blobs bound to their record and field, master-key rotation, and a wrong key refused."""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, Text, cast, select, text, update
from sqlalchemy.engine import make_url

from credgate.bootstrap import initialise
from credgate.connectors.credentials.models import ConnectorCredentialSecret
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.models import MetaEntry
from credgate.models import SEALED, metadata
from credgate.security.keyfiles import BootstrapError, master_key_path
from credgate.security.models import SigningKey
from credgate.security.rotation import (
    RotationError,
    propose_key,
    reencrypt_installation,
    rotate_key_file,
    versions_in_use,
)
from credgate.security.vault import VaultError, parse_master_keys

ACTOR = Actor("tests", "pytest")
SECRETS = {
    "basic": "Pw-plain-5e1d9c0a7b",
    "bearer": "Tk-plain-0a9b8c7d6e",
    "oauth": "Cs-plain-3f2e1d0c9b",
    "access": "At-plain-8a7b6c5d4e",
}


def bodies() -> list[dict[str, Any]]:
    return [
        {
            "name": "ServiceNow",
            "protocol": "HTTPS",
            "url": "https://ven01063.service-now.com/",
            "authorization": {"type": "BASIC", "username": "svc", "password": SECRETS["basic"]},
        },
        {
            "name": "Freshservice",
            "protocol": "HTTPS",
            "url": "https://api.freshservice.com/",
            "authorization": {"type": "BEARER", "token": SECRETS["bearer"]},
        },
        {
            "name": "Jira",
            "protocol": "HTTPS",
            "url": "https://myco.atlassian.net/",
            "authorization": {
                "type": "OAUTH2_CLIENT_CREDENTIALS",
                "client_id": "jira",
                "client_secret": SECRETS["oauth"],
                "access_token_url": "https://auth.atlassian.com/oauth/token",
            },
        },
    ]


def populate(container: Container) -> dict[str, dict[str, str]]:
    """Create one credential per body (and a run-time token); return id -> plaintext secrets."""
    service = container.connector_credentials
    expected: dict[str, dict[str, str]] = {}
    for body in bodies():
        view = service.create(body, actor=ACTOR)
        expected[view.id] = dict(service.load_secrets(view.id))
    jira = service.find("Jira").id
    service.save_obtained_secret(jira, "access_token", SECRETS["access"])
    expected[jira]["access_token"] = SECRETS["access"]
    return expected


def all_read(container: Container, expected: dict[str, dict[str, str]]) -> None:
    for credential_id, plain in expected.items():
        assert dict(container.connector_credentials.load_secrets(credential_id)) == plain


def ciphertexts(db: Database) -> list[str]:
    with db.session() as session:
        sealed = list(session.scalars(select(ConnectorCredentialSecret.ciphertext)))
        sealed += list(session.scalars(select(SigningKey.private_key)))
        sealed += [
            e.value for e in session.scalars(select(MetaEntry)) if e.key.startswith("vault_check:")
        ]
    return sealed


# -- no plaintext at rest -----------------------------------------------------------------------


def _database_bytes(container: Container, tmp_path: Path) -> bytes:
    """The raw SQLite file (with its WAL), or a PostgreSQL dump."""
    db = container.db
    if db.is_sqlite:
        database = Path(str(db.url.database))
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert database in files
        return b"".join(p.read_bytes() for p in files)
    url = make_url(container.settings.resolved_database_url).set(drivername="postgresql")
    pg_dump = shutil.which("pg_dump")
    if pg_dump:
        done = subprocess.run(
            [pg_dump, "--no-owner", url.render_as_string(hide_password=False)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout
    # no usable pg_dump (absent, or another major version): every column of every table as text
    chunks: list[bytes] = []
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [cast(c, Text) for c in table.columns]
            for row in conn.execute(select(*columns)):
                chunks.extend(str(v).encode() for v in row)
    return b"\n".join(chunks)


def test_no_plaintext_secret_at_rest(container: Container, tmp_path: Path) -> None:
    populate(container)
    # an update and a type change write more rows; the old values must be gone too
    service = container.connector_credentials
    now = service.find("Freshservice")
    body = dict(now.masked)
    body["authorization"] = {"type": "BASIC", "username": "u", "password": "Pw-plain-77aa66bb55"}
    service.update(now.id, body, actor=ACTOR)
    raw = _database_bytes(container, tmp_path)
    assert b"ven01063.service-now.com" in raw  # the scan does see the stored data
    assert b"v1.1." in raw
    for secret in [*SECRETS.values(), "Pw-plain-77aa66bb55"]:
        assert secret.encode() not in raw
        assert base64.b64encode(secret.encode()) not in raw


def test_a_blob_moved_to_another_record_does_not_decrypt(container: Container) -> None:
    expected = populate(container)
    basic = container.connector_credentials.find("ServiceNow").id
    bearer = container.connector_credentials.find("Freshservice").id
    with container.db.session() as session:
        stolen = session.get(ConnectorCredentialSecret, (basic, "password"))
        assert stolen is not None
        session.execute(
            update(ConnectorCredentialSecret)
            .where(ConnectorCredentialSecret.credential_id == bearer)
            .values(ciphertext=stolen.ciphertext)
        )
    with pytest.raises(VaultError) as info:
        container.connector_credentials.load_secrets(bearer)
    assert SECRETS["basic"] not in str(info.value)
    assert dict(container.connector_credentials.load_secrets(basic)) == expected[basic]


# -- master-key rotation ---------------------------------------------------------------------------


def _key(version: int) -> str:
    return f"{version}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


@pytest.fixture
def file_settings(tmp_path: Path, database_url: str, key_material: dict[str, str]) -> Settings:
    """An installation whose master key lives in the key file (as `credgate init` writes it)."""
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        admin_password="correct horse battery staple",
        pepper=key_material["pepper"],
    )
    path = master_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key_material["master_key"] + "\n", encoding="utf-8")
    db = Database(settings.resolved_database_url)
    initialise(settings, db, create_keys=False)
    db.dispose()
    return settings


def _open(settings: Settings) -> Container:
    return Container.open(settings)


def test_rotate_key_file_reencrypts_everything(file_settings: Settings) -> None:
    container = _open(file_settings)
    try:
        expected = populate(container)
        kid = container.keys().active.kid
    finally:
        container.close()
    db = Database(file_settings.resolved_database_url)
    started: list[int] = []
    advanced: list[int] = []
    try:
        version, report = rotate_key_file(
            file_settings,
            db,
            SEALED,
            batch_size=2,
            on_start=started.append,
            on_progress=advanced.append,
        )
        assert version == 2
        assert report.complete
        assert report.reencrypted == started[0] == sum(advanced) == 5  # 4 secrets and 1 signing key
        assert all(n <= 2 for n in advanced)
        sealed = ciphertexts(db)
        assert sealed
        assert all(c.startswith("v1.2.") for c in sealed)
        assert versions_in_use(db, SEALED) == {2: 5}
        with db.session() as session:
            markers = [e.key for e in session.scalars(select(MetaEntry))]
        assert "vault_check:2" in markers
        assert "vault_check:1" not in markers
    finally:
        db.dispose()
    assert set(parse_master_keys(master_key_path(file_settings).read_text())) == {1, 2}
    container = _open(file_settings)
    try:
        all_read(container, expected)
        assert container.keys().active.kid == kid  # the signing key still decrypts
    finally:
        container.close()
    # the old version may now go: the file keeps version 2 only, and everything still reads
    db = Database(file_settings.resolved_database_url)
    try:
        report = reencrypt_installation(file_settings, db, SEALED, drop_old=True)
        assert report.reencrypted == 0
        assert report.complete
    finally:
        db.dispose()
    assert set(parse_master_keys(master_key_path(file_settings).read_text())) == {2}
    container = _open(file_settings)
    try:
        all_read(container, expected)
    finally:
        container.close()


def test_keys_from_the_environment_rotate_in_two_steps(container: Container) -> None:
    expected = populate(container)
    settings = container.settings
    container.close()
    db = Database(settings.resolved_database_url)
    try:
        before = ciphertexts(db)
        proposal = propose_key(settings, db)
        assert proposal.version == 2
        assert proposal.value not in repr(proposal)
        assert ciphertexts(db) == before  # step one changes nothing
        assert set(parse_master_keys(proposal.value)) == {1, 2}
        rotated = Settings(**{**settings.model_dump(), "master_key": proposal.value})
        report = reencrypt_installation(rotated, db, SEALED)
        assert report.complete
        assert all(c.startswith("v1.2.") for c in ciphertexts(db))
    finally:
        db.dispose()
    only_new = proposal.value.split(",")[0]
    assert only_new.startswith("2:")
    reopened = Container.open(Settings(**{**settings.model_dump(), "master_key": only_new}))
    try:
        all_read(reopened, expected)
    finally:
        reopened.close()
    with pytest.raises(BootstrapError, match="version 2 is in use by this database but was not"):
        Container.open(settings)  # the old key alone no longer opens it


def test_rotation_stops_at_a_damaged_value_and_names_it(container: Container) -> None:
    populate(container)
    basic = container.connector_credentials.find("ServiceNow").id
    with container.db.session() as session:
        session.execute(
            update(ConnectorCredentialSecret)
            .where(ConnectorCredentialSecret.credential_id == basic)
            .values(ciphertext=cast(text("'v1.1.AAAA'"), String))
        )
    master = container.settings.master_key
    assert master is not None
    settings = Settings(
        **{
            **container.settings.model_dump(),
            "master_key": f"{_key(2)},{master.get_secret_value()}",
        }
    )
    with pytest.raises(RotationError) as info:
        reencrypt_installation(settings, container.db, SEALED)
    assert basic in str(info.value)
    assert "password" in str(info.value)


# -- a wrong or missing key refuses to start ---------------------------------------------------


def test_wrong_master_key_refuses_to_start(container: Container) -> None:
    populate(container)
    settings = container.settings
    wrong = Settings(**{**settings.model_dump(), "master_key": _key(1)})
    with pytest.raises(BootstrapError) as info:
        Container.open(wrong)
    assert "master key version 1 does not match" in str(info.value)
    with pytest.raises(BootstrapError, match="does not match"):
        Container.open(wrong, bootstrap=True)
    db = Database(settings.resolved_database_url)
    try:
        with pytest.raises(BootstrapError, match="does not match"):
            initialise(wrong, db, create_keys=False)
    finally:
        db.dispose()
    newer_only = Settings(**{**settings.model_dump(), "master_key": _key(2)})
    with pytest.raises(BootstrapError, match="version 1 is in use by this database but was not"):
        Container.open(newer_only)
