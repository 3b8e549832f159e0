"""Two server processes on one PostgreSQL database: a deleted credential's token is refused by
the node that deleted it at once, and by the other node within 5 seconds."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from resource_support import ACTOR, free_port
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.config import Settings
from credgate.core.db import Database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_ADMIN_URL = os.environ.get(
    "CREDGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def cluster_database() -> Iterator[str]:
    """A database of its own, dropped at the end; skipped when PostgreSQL does not answer."""
    try:
        admin = create_engine(
            PG_ADMIN_URL,
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
            connect_args={"connect_timeout": 3},
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} does not answer ({type(exc).__name__})")
    name = f"credgate_cluster_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def test_deleted_credential_is_refused_by_both_nodes(tmp_path: Path, cluster_database: str) -> None:
    ports = [free_port(), free_port()]
    env_common = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "CREDGATE_DATABASE_URL": cluster_database,
        "CREDGATE_MASTER_KEY": f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        "CREDGATE_PEPPER": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CREDGATE_ADMIN_PASSWORD": "correct horse battery staple",
        # Behind one load balancer: every node names the same issuer.
        "CREDGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
        "CREDGATE_SYNC_INTERVAL_SECONDS": "1",
        "CREDGATE_LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    settings = Settings(
        data_dir=tmp_path / "tests",
        database_url=cluster_database,
        master_key=env_common["CREDGATE_MASTER_KEY"],
        pepper=env_common["CREDGATE_PEPPER"],
        admin_password=env_common["CREDGATE_ADMIN_PASSWORD"],
    )
    # Set the installation up once, so that both nodes can start side by side.
    db = Database(cluster_database)
    initialise(settings, db)
    db.dispose()
    try:
        for index, port in enumerate(ports):
            env = {
                **env_common,
                "CREDGATE_PORT": str(port),
                "CREDGATE_DATA_DIR": str(tmp_path / f"n{index}"),
            }
            process = subprocess.Popen(
                [sys.executable, "-m", "credgate", "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            processes.append(process)
        for url, process in zip(urls, processes, strict=True):
            _wait_ready(url, process, time.monotonic() + 30)
        container = Container.open(settings)
        try:
            created = container.api_credentials.create(
                name="cluster", permissions=["workflows"], actor=ACTOR
            )
            admin_token = container.admins.issue_token("admin", "cluster test", actor=ACTOR).token
        finally:
            container.close()

        cid, secret = created.credential.client_id, created.client_secret
        issued = httpx.post(f"{urls[1]}/api/v1/token", auth=(cid, secret), timeout=5)
        assert issued.status_code == 200, issued.text
        bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        for url in urls:  # both nodes accept it (and cache the verification)
            assert (
                httpx.get(f"{url}/api/v1/workflows", headers=bearer, timeout=5).status_code == 200
            )

        deleted = httpx.delete(
            f"{urls[0]}/admin/api/v1/api-credentials/{cid}",
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=5,
        )
        assert deleted.status_code == 204
        started = time.monotonic()
        first = httpx.get(f"{urls[0]}/api/v1/workflows", headers=bearer, timeout=5)
        assert first.status_code == 401  # at once, on the node that deleted it
        assert 'error="invalid_token"' in first.headers["www-authenticate"]
        while True:
            other = httpx.get(f"{urls[1]}/api/v1/workflows", headers=bearer, timeout=5)
            if other.status_code == 401:
                break
            assert other.status_code == 200
            assert time.monotonic() - started < 5, (
                "the other node still accepts the token after 5 s"
            )
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        assert elapsed < 5
        print(f"the other node refused the token after {elapsed:.2f} s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr:
                process.stderr.close()
