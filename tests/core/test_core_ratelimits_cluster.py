"""Two ``credgate serve`` processes on one PostgreSQL database and one Redis enforce one limit
per credential: N requests are allowed across both nodes in the window, the rest get 429."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.db import Database
from served import ServedCredgate
from support import make_key_material, make_settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REDIS_URL = os.environ.get("CREDGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 5


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the Redis the tests share; its keys removed after."""
    try:
        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        connection.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} does not answer ({type(exc).__name__})")
    prefix = f"credgate-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)
    connection.close()


def test_two_nodes_share_one_limit(tmp_path: Path, database_url: str, redis_prefix: str) -> None:
    keys = make_key_material()
    settings = make_settings(tmp_path / "setup", database_url, keys)
    db = Database(database_url)
    initialise(settings, db)  # once, so that both nodes start on a ready installation
    db.dispose()
    shared = {
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
        "rate_limit_workflows": f"{LIMIT}/minute",
        **keys,
    }
    first = ServedCredgate(tmp_path / "a", **shared)
    # Behind one load balancer every node names the same issuer.
    second = ServedCredgate(tmp_path / "b", public_base_url=first.url, **shared)
    first.env["CREDGATE_PUBLIC_BASE_URL"] = first.url
    container = Container.open(settings)
    try:
        created = container.api_credentials.create(
            name="cluster", permissions=["workflows"], actor=Actor("tests", "pytest")
        )
    finally:
        container.close()

    with first, second:
        issued = httpx.post(
            f"{second.url}/api/v1/token",
            auth=(created.credential.client_id, created.client_secret),
            timeout=10,
        )
        assert issued.status_code == 200, issued.text
        bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        answers = [
            httpx.get(f"{node.url}/api/v1/workflows", headers=bearer, timeout=10)
            for node in (first, second) * LIMIT
        ]

    statuses = [a.status_code for a in answers]
    assert statuses == [200] * LIMIT + [429] * LIMIT, statuses
    remaining = [int(re.findall(r";r=(\d+)", a.headers["ratelimit"])[0]) for a in answers]
    assert remaining == [4, 3, 2, 1, 0, 0, 0, 0, 0, 0]
    for answer in answers:
        assert answer.headers["ratelimit-policy"] == f'"workflows";q={LIMIT};w=60'
    for limited in answers[LIMIT:]:
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert limited.json()["code"] == "TOO_MANY_REQUESTS"
