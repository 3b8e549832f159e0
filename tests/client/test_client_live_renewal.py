"""Token lifetimes against a real credgate issuing 3-second tokens, counted by the server
(`credgate_tokens_issued`): a long-running client renews ahead of expiry without a single
refused call, and 100 concurrent tasks on one client make one token request per lifetime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from credgate.testing import Sandbox

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
    async def scenario() -> list[tuple[int, float]]:
        rounds: list[tuple[int, float]] = []
        async with sandbox.async_client(["workflows"]) as client:
            for round_number in range(3):
                if round_number:
                    # Start each round once the previous token is due for renewal.
                    for _ in range(500):
                        if client._auth.flow.current() is None:
                            break
                        await asyncio.sleep(0.01)
                before = sandbox.tokens_issued()
                started = time.monotonic()
                results = await asyncio.gather(*(client.list_workflows() for _ in range(100)))
                took = time.monotonic() - started
                assert all(r[0].id == "#restart_service" for r in results)
                rounds.append((sandbox.tokens_issued() - before, took))
        return rounds

    rounds = asyncio.run(scenario())
    for made, took in rounds:
        # One per lifetime; a round slower than a lifetime may legitimately need one more.
        assert 1 <= made <= 1 + int(took // RENEW_AFTER), rounds
