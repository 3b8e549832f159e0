"""Token renewal under load, against credgate's own token endpoint run as a real server.

The server is credgate in a subprocess (over TLS, token lifetime 5 s). The sending side is
another credgate installation whose connector credential holds an API credential of the server.
Senders call a protected platform API (``GET /api/v1/workflows``) for 60 s; the number of tokens
the server issued (its ``credgate_tokens_issued`` counter) must stay near duration / lifetime + 1,
first with 64 senders in one process (single flight), then with 32 senders in each of two worker
processes sharing one PostgreSQL database (the lease).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from outbound_load_worker import send
from outbound_peers import SRC, CredgateServer, Tls, assert_no_secrets, free_port

from credgate.connectors.tokenstore import DatabaseTokenStore
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import (
    make_key_material,
    make_settings,
    open_container,
    own_pg_database,
    settings_env,
)

ACTOR = Actor("tests", "pytest")
LIFETIME = 5
DURATION = 60.0
WORKER = Path(__file__).with_name("outbound_load_worker.py")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Server:
    process: CredgateServer
    client_id: str
    client_secret: str


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tls: Tls) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("server")
    port = free_port()
    settings = make_settings(
        home,
        f"sqlite:///{home / 'server.db'}",
        make_key_material(),
        port=port,
        token_ttl_seconds=LIFETIME,
        public_base_url=f"https://127.0.0.1:{port}",
    )
    container = open_container(settings)
    try:
        created = container.api_credentials.create(
            name="outbound-load", permissions=["workflows"], actor=ACTOR
        )
    finally:
        container.close()
    env = {
        **settings_env(settings),
        "CREDGATE_TOKEN_TTL_SECONDS": str(LIFETIME),
        "CREDGATE_PUBLIC_BASE_URL": settings.public_base_url or "",
        "CREDGATE_LOG_LEVEL": "WARNING",
    }
    process = CredgateServer(env, tls, port, home / "server.log")
    try:
        process.wait_ready()
        yield Server(process, created.credential.client_id, created.client_secret)
    finally:
        process.stop()


def connector_credential(container: Container, server: Server) -> str:
    url = server.process.url
    return container.connector_credentials.create(
        {
            "name": f"credgate-{uuid.uuid4().hex[:8]}",
            "protocol": "HTTPS",
            "url": f"{url}/",
            "authorization": {
                "type": "OAUTH2_CLIENT_CREDENTIALS",
                "client_id": server.client_id,
                "client_secret": server.client_secret,
                "access_token_url": f"{url}/oauth2/default/v1/token",
            },
        },
        actor=ACTOR,
    ).id


def assert_about_duration_over_lifetime(issued: int) -> None:
    # duration / lifetime + 1 = 13. Each token is renewed a little before it expires (10 % of
    # its lifetime, plus up to 5 % jitter), so a token serves 4.25 to 4.5 s: up to 15 are
    # expected. A broken single flight or lease would issue one per sender or per process.
    expected = DURATION / LIFETIME + 1
    ceiling = math.ceil(DURATION / (LIFETIME * 0.85)) + 2
    print(
        f"token requests counted by the server: {issued} (duration/lifetime + 1 = {expected:.0f})"
    )
    assert DURATION / LIFETIME <= issued <= ceiling


def test_64_senders_in_one_process_share_each_renewal(
    server: Server, tls: Tls, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="credgate")
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'sender.db'}",
        make_key_material(),
        outbound_ca_bundle=tls.ca_bundle,
    )
    container = open_container(settings)
    try:
        credential_id = connector_credential(container, server)
        before = server.process.tokens_issued()
        counts = asyncio.run(
            send(
                container.connections,
                credential_id,
                f"{server.process.url}/api/v1/workflows",
                64,
                DURATION,
            )
        )
        issued = server.process.tokens_issued() - before
        status = container.connector_credentials.get(credential_id).status
        store = DatabaseTokenStore(container.db, container.connector_credentials, credential_id)
        last = store.load()
    finally:
        container.close()
    print(f"one process, 64 senders: {counts}")
    assert set(counts) == {"200"}, counts
    assert counts["200"] > 64 * 60
    assert status == "ok"
    assert last is not None
    renewals = [r for r in caplog.records if r.getMessage().startswith("token renewed at ")]
    assert len(renewals) == issued  # every token the server counted was fetched here
    assert assert_no_secrets(caplog.records, [server.client_secret, last.access_token]) > 0
    assert_about_duration_over_lifetime(issued)


@pytest.fixture
def sender_database() -> Iterator[str]:
    """A PostgreSQL database of the sending side, for this test only."""
    why = "the two-process lease test needs a database both workers share"
    with own_pg_database("credgate_load", why) as url:
        yield url


def test_two_worker_processes_share_the_lease(
    server: Server, tls: Tls, tmp_path: Path, sender_database: str
) -> None:
    settings = make_settings(
        tmp_path, sender_database, make_key_material(), outbound_ca_bundle=tls.ca_bundle
    )
    container = open_container(settings)
    try:
        credential_id = connector_credential(container, server)
    finally:
        container.close()
    before = server.process.tokens_issued()
    env = {
        **_clean_environ(),
        **settings_env(settings),
        "CREDGATE_OUTBOUND_CA_BUNDLE": str(tls.ca_bundle),
        "PYTHONPATH": str(SRC),
        "LOAD_START_AT": str(time.time() + 4),
        "LOAD_CREDENTIAL_ID": credential_id,
        "LOAD_URL": f"{server.process.url}/api/v1/workflows",
        "LOAD_SENDERS": "32",
        "LOAD_DURATION": str(DURATION),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=DURATION + 60)
        assert worker.returncode == 0, err.decode(errors="replace")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    issued = server.process.tokens_issued() - before
    print(f"two processes, 32 senders each: {results}")
    for counts in results:
        assert set(counts) == {"200"}, counts
        assert counts["200"] > 32 * 60
    assert_about_duration_over_lifetime(issued)
