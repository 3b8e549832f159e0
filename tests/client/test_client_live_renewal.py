"""Token lifetimes against a real credgate issuing 3-second tokens, counted by the server
(`credgate_tokens_issued`): a long-running client renews ahead of expiry without a single
refused call, and 100 concurrent tasks on one client make one token request per lifetime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from credgate.testing import Sandbox
from support.sdk import concurrent_rounds

LIFETIME = 3
RENEW_AFTER = LIFETIME * 0.9  # the SDK renews a tenth of the lifetime early


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(settings={"token_ttl_seconds": LIFETIME}) as server:
        server.seed()
        yield server


def _rejections(sandbox: Sandbox) -> float:
    registry = sandbox.container.metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "credgate_bearer_rejections"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def test_a_long_running_client_keeps_working_across_renewals(sandbox: Sandbox) -> None:
    before, refused_before = sandbox.tokens_issued(), _rejections(sandbox)
    calls = 0
    with sandbox.client(["workflows"]) as client:
        started = time.monotonic()
        while time.monotonic() - started < 2 * RENEW_AFTER + 0.8:
            assert client.list_workflows()[0].id == "#restart_service"
            calls += 1
            time.sleep(0.2)
        elapsed = time.monotonic() - started
    issued = sandbox.tokens_issued() - before
    assert calls > 10
    assert 3 <= issued <= 1 + int(elapsed // RENEW_AFTER)
    # Renewed ahead of expiry: the server never had to refuse a token.
    assert _rejections(sandbox) == refused_before


def test_100_concurrent_tasks_make_one_token_request_per_lifetime(sandbox: Sandbox) -> None:
    def check(results: list[Any]) -> None:
        assert all(r[0].id == "#restart_service" for r in results)

    async def scenario() -> list[tuple[int, float]]:
        async with sandbox.async_client(["workflows"]) as client:
            return await concurrent_rounds(client, sandbox.tokens_issued, check)

    rounds = asyncio.run(scenario())
    for made, took in rounds:
        # One per lifetime; a round slower than a lifetime may legitimately need one more.
        assert 1 <= made <= 1 + int(took // RENEW_AFTER), rounds
