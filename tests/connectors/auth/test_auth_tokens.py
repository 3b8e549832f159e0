"""Token model, renewal schedule, in-memory store and its lease."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import credgate.connectors.auth as auth_package
from credgate.connectors.auth import (
    InMemoryTokenStore,
    RenewalError,
    Token,
    TokenStore,
    ahold_lease,
    hold_lease,
)
from credgate.connectors.auth._tokens import renewal_time


def test_public_api_is_exactly_all() -> None:
    # "@py_builtins"/"@pytest_ar" appear when pytest rewrites the installed package's asserts
    # (it does for every package of a distribution that registers a pytest plugin).
    public = {name for name in vars(auth_package) if not name.startswith(("_", "@"))}
    modules = {"basic", "bearer", "none", "oauth2_authorization_code", "oauth2_client_credentials"}
    assert set(auth_package.__all__) == public - modules
    assert sorted(auth_package.__all__) == sorted(set(auth_package.__all__))


def test_token_round_trips_through_plain_data() -> None:
    token = Token("at", expires_at=200.0, refresh_token="rt", scope="read", obtained_at=100.0)
    assert Token.from_dict(token.to_dict()) == token
    assert token.lifetime == 100.0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "access_token"),
        ({"access_token": ""}, "access_token"),
        ({"access_token": "a", "refresh_token": 5}, "refresh_token"),
        ({"access_token": "a", "expires_at": "soon"}, "expires_at"),
        ({"access_token": "a", "expires_at": True}, "expires_at"),
    ],
)
def test_token_from_bad_data_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Token.from_dict(data)


def test_token_repr_hides_both_tokens() -> None:
    text = repr(Token("at-very-secret", refresh_token="rt-very-secret", obtained_at=1.0))
    assert "very-secret" not in text
    assert "[secure]" in text


@pytest.mark.parametrize(
    ("lifetime", "earliest", "latest"),
    [
        (300.0, 300 - 30 - 5, 300 - 30),  # 10 % margin, jitter capped at 5 s
        (3600.0, 3600 - 60 - 5, 3600 - 60),  # margin capped at 60 s
        (2.0, 2 - 0.2 - 0.1, 2 - 0.2),
    ],
)
def test_renewal_time_margin_and_jitter(lifetime: float, earliest: float, latest: float) -> None:
    token = Token("a", expires_at=lifetime, obtained_at=0.0)
    times = [renewal_time(token) for _ in range(200)]
    assert all(earliest <= t <= latest for t in times)
    assert len(set(times)) > 1  # jittered
    assert renewal_time(token, jitter=False) == latest
    assert renewal_time(Token("a", obtained_at=0.0)) == float("inf")


def test_in_memory_store_is_a_token_store() -> None:
    assert isinstance(InMemoryTokenStore(), TokenStore)


def test_lease_is_exclusive_until_released_or_expired() -> None:
    now = [0.0]
    store = InMemoryTokenStore(clock=lambda: now[0])
    assert store.try_acquire_lease("a", ttl=10)
    assert not store.try_acquire_lease("b", ttl=10)
    assert store.try_acquire_lease("a", ttl=10)  # the holder may extend it
    store.release_lease("b")  # not the holder: no effect
    assert not store.try_acquire_lease("b", ttl=10)
    now[0] = 10.5  # a crashed holder's lease runs out
    assert store.try_acquire_lease("b", ttl=10)
    store.release_lease("b")
    assert store.try_acquire_lease("a", ttl=10)


def test_hold_lease_waits_for_the_holder_and_times_out() -> None:
    store = InMemoryTokenStore()
    order: list[str] = []
    with hold_lease(store, ttl=5, wait=1):
        waiter = threading.Thread(target=lambda: _take(store, order))
        waiter.start()
        time.sleep(0.05)
        order.append("first released")
    waiter.join()
    assert order == ["first released", "second acquired"]

    assert store.try_acquire_lease("stuck", ttl=60)
    started = time.monotonic()
    with pytest.raises(RenewalError, match="lease_timeout"), hold_lease(store, ttl=5, wait=0.1):
        pass
    assert time.monotonic() - started < 1


def _take(store: InMemoryTokenStore, order: list[str]) -> None:
    with hold_lease(store, ttl=5, wait=2):
        order.append("second acquired")


def test_async_lease_released_when_the_task_is_cancelled() -> None:
    store = InMemoryTokenStore()

    async def run() -> bool:
        entered = asyncio.Event()

        async def holder() -> None:
            async with ahold_lease(store, ttl=30, wait=1):
                entered.set()
                await asyncio.sleep(30)

        task = asyncio.create_task(holder())
        await entered.wait()
        assert not store.try_acquire_lease("other", ttl=1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return store.try_acquire_lease("other", ttl=1)

    assert asyncio.run(run())
