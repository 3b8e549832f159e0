"""Shared fixtures.

Storage-facing tests run on both back ends: ``backend`` is parametrised over SQLite (a fresh file
per test) and PostgreSQL (one database per run, created here and emptied between tests). When
PostgreSQL does not answer, its half is skipped with the reason printed in the summary.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient

from credgate.app import CredgateApp, create_app
from credgate.container import Container
from credgate.core.config import Settings
from credgate.models import metadata
from support import (
    LiveServer,
    Tls,
    free_port,
    make_key_material,
    make_settings,
    make_tls,
    open_container,
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
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        tables = [t.name for t in metadata.sorted_tables]
        existing = {
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        }
        present = [t for t in tables if t in existing]
        if present:
            conn.execute(text(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE"))
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
    _empty_pg(url)
    yield url
    _empty_pg(url)


@pytest.fixture
def key_material() -> dict[str, str]:
    return make_key_material()


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
def container(settings: Settings) -> Iterator[Container]:
    rt = open_container(settings)
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
    tmp_path: Path, key_material: dict[str, str], live_settings_overrides: dict[str, Any]
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
    container = open_container(settings)
    with LiveServer(create_app(container=container), port) as server:
        yield server
    container.close()
