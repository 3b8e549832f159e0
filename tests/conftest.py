"""Shared fixtures.

Storage-facing tests run on both back ends: ``backend`` is parametrised over SQLite (a fresh file
per test) and PostgreSQL (one database per run, created here and emptied between tests). When
PostgreSQL does not answer, its half is skipped with the reason printed in the summary.

Each test starts from an initialised installation (migrated schema, signing key, first admin).
Migrating and hashing the admin password cost more than most tests, so ``credgate init`` runs
once per worker and key material, and each test gets a copy: the SQLite file copied, the
PostgreSQL rows put back after the truncation. The migrations themselves are tested on their own.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, literal, select, text, union_all
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient

from credgate.app import CredgateApp, create_app
from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.models import metadata
from support import (
    LiveServer,
    Tls,
    free_port,
    make_key_material,
    make_settings,
    make_tls,
    own_pg_database,
    sign_in,
)

# The user's own default instance (~/.config/credgate/credgate.toml) must not reach the tests,
# nor may a test write one there.
os.environ["XDG_CONFIG_HOME"] = str(
    Path(os.environ.get("TMPDIR", "/tmp")) / f"credgate-tests-xdg-{uuid.uuid4().hex}"
)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this run, dropped at the end."""
    with own_pg_database("credgate_test") as url:
        yield url


def _empty_pg(url: str) -> None:
    """Every table of the schema empty, its identities restarted. A test leaves rows in a few
    tables: those are emptied with DELETE, which on a handful of rows costs much less than
    TRUNCATE of every table (new files for each)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            existing = {
                r[0]
                for r in conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                )
            }
            present = [t for t in metadata.sorted_tables if t.name in existing]
            if not present:
                return
            probe = union_all(
                *(select(literal(t.name)).where(select(1).select_from(t).exists()) for t in present)
            )
            filled = set(conn.scalars(probe))
            for table in reversed(present):  # those referring to others first
                if table.name in filled:
                    conn.execute(table.delete())
            for (sequence,) in conn.execute(
                text(
                    "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
                    " WHERE schemaname = 'public' AND last_value IS NOT NULL"
                )
            ):
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'credgate.db'}"
        return
    url: str = request.getfixturevalue("pg_database")
    # Emptied before each test (not after as well: the next test empties it anyway).
    _empty_pg(url)
    yield url


@pytest.fixture(scope="session")
def session_key_material() -> dict[str, str]:
    return make_key_material()


@pytest.fixture
def key_material(session_key_material: dict[str, str]) -> dict[str, str]:
    """The keys of the test's installation: the same in every test of a worker, so that the
    initialised installation can be copied (each test still has its own database)."""
    return dict(session_key_material)


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


class Installations:
    """Initialised installations, made once per key material and copied into each test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sqlite_files: dict[tuple[str | None, ...], Path] = {}
        self.pg_rows: dict[tuple[str | None, ...], tuple[dict[str, list[Any]], list[Any]]] = {}

    @staticmethod
    def _key(settings: Settings) -> tuple[str | None, ...]:
        # What ``initialise`` writes depends on these alone (the rest of the settings is read
        # by the running service, not stored).
        return (
            _secret(settings.master_key),
            _secret(settings.pepper),
            settings.admin_username,
            _secret(settings.admin_password),
        )

    def install(self, settings: Settings) -> None:
        """What ``initialise(settings, db, create_keys=False)`` would leave, faster."""
        url = make_url(settings.resolved_database_url)
        if settings.master_key is None or settings.pepper is None:
            self._initialise(settings)
        elif url.get_backend_name() == "sqlite":
            self._sqlite(settings, Path(str(url.database)))
        else:
            self._postgresql(settings)

    @staticmethod
    def _initialise(settings: Settings) -> None:
        db = Database(settings.resolved_database_url)
        try:
            initialise(settings, db, create_keys=False)
        finally:
            db.dispose()

    def _sqlite(self, settings: Settings, target: Path) -> None:
        if target.exists():
            self._initialise(settings)
            return
        key = self._key(settings)
        template = self.sqlite_files.get(key)
        if template is None:
            where = self.directory / f"sqlite-{len(self.sqlite_files)}"
            template = where / "credgate.db"
            master_key, pepper, username, password = key
            assert master_key is not None
            assert pepper is not None
            self._initialise(
                make_settings(
                    where,
                    f"sqlite:///{template}",
                    {"master_key": master_key, "pepper": pepper},
                    admin_username=username,
                    admin_password=password,
                )
            )
            # Everything in the main file, so that copying that file alone copies the database.
            with sqlite3.connect(template) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self.sqlite_files[key] = template
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy(template, target)  # with its 0600 mode, as credgate creates it

    def _postgresql(self, settings: Settings) -> None:
        url = settings.resolved_database_url
        key = self._key(settings)
        snapshot = self.pg_rows.get(key)
        if snapshot is None:
            self._initialise(settings)
            self.pg_rows[key] = _pg_snapshot(url)
            return
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            _pg_restore(url, *snapshot)
        except DBAPIError:
            # Not the emptied database of ``database_url`` (rolled back): initialised as asked.
            self._initialise(settings)


def _pg_snapshot(url: str) -> tuple[dict[str, list[Any]], list[Any]]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        rows = {
            table.name: [dict(row._mapping) for row in conn.execute(table.select())]
            for table in metadata.sorted_tables
        }
        sequences = list(
            conn.execute(
                text(
                    "SELECT format('%I.%I', schemaname, sequencename), last_value"
                    " FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
                )
            )
        )
    engine.dispose()
    return {name: found for name, found in rows.items() if found}, sequences


def _pg_restore(url: str, rows: dict[str, list[Any]], sequences: list[Any]) -> None:
    """The database as the snapshot found it (it was emptied just before)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name in rows:
                conn.execute(table.insert(), rows[table.name])
        for name, value in sequences:
            conn.execute(text("SELECT setval(:name, :value)"), {"name": name, "value": value})
    engine.dispose()


@pytest.fixture(scope="session")
def installations(tmp_path_factory: pytest.TempPathFactory) -> Installations:
    return Installations(tmp_path_factory.mktemp("installations"))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for the container fixtures."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    key_material: dict[str, str],
    settings_overrides: dict[str, Any],
) -> Settings:
    return make_settings(tmp_path, database_url, key_material, **settings_overrides)


@pytest.fixture
def container(settings: Settings, installations: Installations) -> Iterator[Container]:
    installations.install(settings)
    rt = Container.open(settings)
    yield rt
    rt.close()


@pytest.fixture
def app(container: Container) -> CredgateApp:
    return create_app(container=container)


@pytest.fixture
def client(app: CredgateApp) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


@pytest.fixture
def admin_token(container: Container) -> str:
    from credgate.core.audit.services import Actor

    return container.admins.issue_token("admin", "tests", actor=Actor("tests", "pytest")).token


@pytest.fixture
def admin_client(client: TestClient, admin_token: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A private CA and a certificate for 127.0.0.1, for the outbound peers of a module."""
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment for in-process ``credgate`` commands: none of the caller's CREDGATE_*
    variables, and a data directory under ``tmp_path`` (returned)."""
    for name in list(os.environ):
        if name.startswith("CREDGATE_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "var"
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture
def ui(client: TestClient) -> TestClient:
    """The test client signed in to the administration pages as ``admin``."""
    assert sign_in(client).status_code == 303
    return client


@pytest.fixture
def live_settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def live_server(
    tmp_path: Path,
    key_material: dict[str, str],
    live_settings_overrides: dict[str, Any],
    installations: Installations,
) -> Iterator[LiveServer]:
    """A real server on a free port, on SQLite, whose issuer matches its address."""
    port = free_port()
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'live.db'}",
        key_material,
        port=port,
        **live_settings_overrides,
    )
    installations.install(settings)
    container = Container.open(settings)
    with LiveServer(create_app(container=container), port) as server:
        yield server
    container.close()
