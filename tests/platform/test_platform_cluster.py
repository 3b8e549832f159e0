"""Two server processes on one PostgreSQL database: a deleted credential's token is refused by
the node that deleted it at once, and by the other node within 5 seconds."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.config import Settings
from credgate.core.db import Database
from served import wait_ready
from shared_installation import ACTOR
from support import free_port, own_pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def cluster_database() -> Iterator[str]:
    with own_pg_database("credgate_cluster") as url:
        yield url


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
            wait_ready(url, process)
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
