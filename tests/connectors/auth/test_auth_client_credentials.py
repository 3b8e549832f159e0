"""OAuth 2.0 client credentials auth: by hand (sans-IO) and against a real token server."""

from __future__ import annotations

import asyncio
import base64
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs

import httpx
import pytest
from auth_peers import CLIENT_ID, CLIENT_SECRET, TokenServer

from credgate.connectors.auth import (
    InMemoryTokenStore,
    InsecureTransportError,
    OAuth2ClientCredentialsAuth,
    RenewalError,
    Token,
    make_async_client,
    make_client,
)
from support import LOOPBACK

TOKEN_URL = "https://idp.example/oauth2/token"
RESOURCE = "https://api.example/v1/things"

Check = Callable[[Iterable[str]], None]


def token_response(access_token: str, expires_in: int | None = 100) -> httpx.Response:
    body: dict[str, object] = {"access_token": access_token, "token_type": "bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return httpx.Response(200, json=body)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_auth(
    store: InMemoryTokenStore, clock: FakeClock, **kw: object
) -> OAuth2ClientCredentialsAuth:
    return OAuth2ClientCredentialsAuth(
        CLIENT_ID,
        CLIENT_SECRET,
        TOKEN_URL,
        "read write",
        store=store,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


# --- sans-IO: the flow driven by hand -------------------------------------------------------


def test_flow_by_hand_fetch_use_401_renew_retry() -> None:
    store, clock = InMemoryTokenStore(), FakeClock()
    auth = make_auth(store, clock)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))

    token_request = next(flow)
    assert (token_request.method, str(token_request.url)) == ("POST", TOKEN_URL)
    form = parse_qs(token_request.content.decode())
    assert form == {"grant_type": ["client_credentials"], "scope": ["read write"]}
    basic = base64.b64decode(token_request.headers["Authorization"].removeprefix("Basic "))
    # RFC 6749 §2.3.1: each half is form-urlencoded before Basic encoding.
    assert basic.decode() == "connector-client:cs_Very%2BSecret%2FValue%3D42"

    resource_request = flow.send(token_response("at-1"))
    assert str(resource_request.url) == RESOURCE
    assert resource_request.headers["Authorization"] == "Bearer at-1"
    stored = store.load()
    assert stored is not None
    assert stored.access_token == "at-1"

    renewal = flow.send(httpx.Response(401))
    assert str(renewal.url) == TOKEN_URL
    retry = flow.send(token_response("at-2"))
    assert retry.headers["Authorization"] == "Bearer at-2"
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401))  # a second 401 is returned, not retried
    assert store.saves == 2
    assert auth.status == "ok"


def test_flow_by_hand_uses_cache_then_renews_ahead_of_expiry() -> None:
    store, clock = InMemoryTokenStore(), FakeClock()
    auth = make_auth(store, clock)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    next(flow)
    flow.send(token_response("at-1", expires_in=100))

    clock.now += 80  # inside the lifetime, outside margin (10 s) + jitter (<= 5 s)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    assert next(flow).headers["Authorization"] == "Bearer at-1"

    clock.now += 11  # 91 s of 100: inside margin (10 s) whatever the jitter
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    assert str(next(flow).url) == TOKEN_URL
    assert flow.send(token_response("at-2")).headers["Authorization"] == "Bearer at-2"


def test_expiry_counts_from_when_the_token_request_was_sent() -> None:
    # A slow answer must not stretch the token's life past the provider's: expires_in is
    # counted from the moment the request went out, not from when the answer arrived.
    store, clock = InMemoryTokenStore(), FakeClock()
    auth = make_auth(store, clock)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    sent_at = clock.now
    next(flow)
    clock.now += 30  # the provider took 30 s to answer
    flow.send(token_response("at-1", expires_in=100))
    stored = store.load()
    assert stored is not None
    assert stored.expires_at == sent_at + 100


def test_flow_by_hand_reuses_token_another_process_stored() -> None:
    store, clock = InMemoryTokenStore(), FakeClock()
    first, second = make_auth(store, clock), make_auth(store, clock)
    flow = first.auth_flow(httpx.Request("GET", RESOURCE))
    next(flow)
    flow.send(token_response("at-1"))

    flow = second.auth_flow(httpx.Request("GET", RESOURCE))
    assert next(flow).headers["Authorization"] == "Bearer at-1"  # no token request
    assert store.saves == 1


def test_client_secret_post_puts_credentials_in_the_body() -> None:
    store, clock = InMemoryTokenStore(), FakeClock()
    auth = make_auth(store, clock, token_endpoint_auth_method="client_secret_post")
    token_request = next(auth.auth_flow(httpx.Request("GET", RESOURCE)))
    form = parse_qs(token_request.content.decode())
    assert form["client_id"] == [CLIENT_ID]
    assert form["client_secret"] == [CLIENT_SECRET]
    assert "Authorization" not in token_request.headers


def test_token_without_expires_in_is_renewed_only_on_401() -> None:
    store, clock = InMemoryTokenStore(), FakeClock()
    auth = make_auth(store, clock)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    next(flow)
    flow.send(token_response("at-1", expires_in=None))
    clock.now += 10 * 365 * 86400
    assert next(auth.auth_flow(httpx.Request("GET", RESOURCE))).headers["Authorization"] == (
        "Bearer at-1"
    )


def test_a_failing_status_callback_does_not_stop_the_send() -> None:
    def broken(status: str) -> None:
        raise RuntimeError("storage down")

    auth = make_auth(InMemoryTokenStore(), FakeClock(), on_status=broken)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    next(flow)
    assert flow.send(token_response("at-1")).headers["Authorization"] == "Bearer at-1"
    assert auth.status == "ok"


def test_error_response_carries_rfc6749_code_and_sets_status() -> None:
    seen: list[str] = []
    store, clock = InMemoryTokenStore(), FakeClock()
    auth = make_auth(store, clock, on_status=seen.append)
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    next(flow)
    with pytest.raises(RenewalError) as caught:
        flow.send(httpx.Response(400, json={"error": "invalid_scope", "error_description": "x"}))
    assert str(caught.value) == "renewal failing: invalid_scope"
    assert (caught.value.error, caught.value.status_code) == ("invalid_scope", 400)
    assert auth.status == seen[-1] == "renewal failing: invalid_scope"
    assert store.load() is None


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (httpx.Response(503, text="<html>down</html>"), "http_503"),
        (httpx.Response(200, text="not json"), "invalid_token_response"),
        (
            httpx.Response(200, json={"access_token": "a", "token_type": "mac"}),
            "invalid_token_response",
        ),
        (
            httpx.Response(
                200, json={"access_token": "a", "token_type": "Bearer", "expires_in": -5}
            ),
            "invalid_token_response",
        ),
        (httpx.Response(400, json={"error": "bad\ncode"}), "http_400"),
    ],
)
def test_unusable_token_responses_are_named(response: httpx.Response, code: str) -> None:
    auth = make_auth(InMemoryTokenStore(), FakeClock())
    flow = auth.auth_flow(httpx.Request("GET", RESOURCE))
    next(flow)
    with pytest.raises(RenewalError, match=f"^renewal failing: {code}$"):
        flow.send(response)


def test_repr_and_errors_never_show_the_secret() -> None:
    auth = make_auth(InMemoryTokenStore(), FakeClock())
    assert CLIENT_SECRET not in repr(auth)
    assert "[secure]" in repr(auth)
    token = Token("at-secret", refresh_token="rt-secret", expires_at=5.0, obtained_at=1.0)
    assert "at-secret" not in repr(token)
    assert "rt-secret" not in repr(token)


def test_plain_http_token_url_to_a_remote_host_is_refused() -> None:
    with pytest.raises(InsecureTransportError, match="token_url"):
        OAuth2ClientCredentialsAuth(
            CLIENT_ID, CLIENT_SECRET, "http://idp.example/token", store=InMemoryTokenStore()
        )
    store = InMemoryTokenStore()
    flow = make_auth(store, FakeClock()).auth_flow(httpx.Request("GET", "http://api.example/v1"))
    with pytest.raises(InsecureTransportError):
        next(flow)  # refused before a token is even fetched
    assert store.saves == 0


# --- against a real token server on loopback ---------------------------------------------


def live_auth(
    url: str, store: InMemoryTokenStore | None = None, **kw: object
) -> OAuth2ClientCredentialsAuth:
    return OAuth2ClientCredentialsAuth(
        CLIENT_ID,
        CLIENT_SECRET,
        f"{url}/token",
        store=store or InMemoryTokenStore(),
        **kw,  # type: ignore[arg-type]
    )


def test_live_fetch_on_first_use_then_cached(
    token_server: tuple[TokenServer, str], secret_log_check: Check
) -> None:
    server, url = token_server
    store = InMemoryTokenStore()
    with make_client(live_auth(url, store), destinations=LOOPBACK) as client:
        assert client.get(f"{url}/resource").status_code == 200
        assert client.post(f"{url}/resource", content=b"payload").json()["body"] == "payload"
    assert (server.token_requests, server.resource_requests) == (1, 2)
    assert server.auth_methods == ["client_secret_basic"]
    assert store.saves == 1
    secret_log_check([CLIENT_SECRET, *server.issued])


def test_live_client_secret_post(token_server: tuple[TokenServer, str]) -> None:
    server, url = token_server
    auth = live_auth(url, token_endpoint_auth_method="client_secret_post")
    with make_client(auth, destinations=LOOPBACK) as client:
        assert client.get(f"{url}/resource").status_code == 200
    assert server.auth_methods == ["client_secret_post"]


def test_live_401_once_renews_once_and_retries_once(
    token_server: tuple[TokenServer, str], secret_log_check: Check
) -> None:
    server, url = token_server
    with make_client(live_auth(url), destinations=LOOPBACK) as client:
        assert client.get(f"{url}/resource").status_code == 200
        server.reject_next = 1
        response = client.get(f"{url}/resource")
    assert response.status_code == 200
    assert server.token_requests == 2  # first use + exactly one renewal
    assert server.resource_requests == 3  # one, then the rejected one and its retry
    secret_log_check([CLIENT_SECRET, *server.issued])


def test_live_always_401_does_not_loop(
    token_server: tuple[TokenServer, str], secret_log_check: Check
) -> None:
    server, url = token_server
    server.always_401 = True
    with make_client(live_auth(url), destinations=LOOPBACK) as client:
        response = client.get(f"{url}/resource")
    assert response.status_code == 401
    assert server.resource_requests == 2
    assert server.token_requests == 2  # first use + at most one extra
    secret_log_check([CLIENT_SECRET, *server.issued])


def test_live_always_401_async_does_not_loop(token_server: tuple[TokenServer, str]) -> None:
    server, url = token_server
    server.always_401 = True

    async def run() -> int:
        async with make_async_client(live_auth(url), destinations=LOOPBACK) as client:
            return (await client.get(f"{url}/resource")).status_code

    assert asyncio.run(run()) == 401
    assert (server.resource_requests, server.token_requests) == (2, 2)


def test_live_invalid_client_is_reported_without_the_secret(
    token_server: tuple[TokenServer, str], secret_log_check: Check
) -> None:
    server, url = token_server
    seen: list[str] = []
    wrong = "cs_wrong_secret_value"
    auth = OAuth2ClientCredentialsAuth(
        CLIENT_ID, wrong, f"{url}/token", store=InMemoryTokenStore(), on_status=seen.append
    )
    with make_client(auth, destinations=LOOPBACK) as client, pytest.raises(RenewalError) as caught:
        client.get(f"{url}/resource")
    assert str(caught.value) == "renewal failing: invalid_client"
    assert caught.value.error == "invalid_client"
    assert caught.value.status_code == 401
    assert seen == ["renewal failing: invalid_client"]
    assert auth.status == seen[0]
    assert wrong not in repr(caught.value)
    assert wrong not in repr(auth)
    assert server.resource_requests == 0
    secret_log_check([wrong, CLIENT_SECRET])


def test_live_renews_ahead_of_expiry_without_a_single_401(
    token_server: tuple[TokenServer, str],
) -> None:
    server, url = token_server
    # 2 s tokens renew 0.2-0.3 s early: a margin a loaded machine's scheduling delays fit in.
    server.expires_in = 2
    with make_client(live_auth(url), destinations=LOOPBACK) as client:
        stop = time.monotonic() + 4.5
        while time.monotonic() < stop:
            assert client.get(f"{url}/resource").status_code == 200
            time.sleep(0.02)
    assert server.resource_rejections == 0  # the token never reached its expiry in use
    assert 3 <= server.token_requests <= 4  # renewed at 85-90 % of each 2 s lifetime


# Under 64 senders, client and server share one GIL on two cores, and a request can
# wait in a queue for longer than a 2 s token's 0.2 s margin (real 900 s tokens get
# 60 s). Such a request meets a 401 and is retried with the token already renewed,
# so callers still see 200 and the token count stays one per lifetime.


def expected_max_token_requests(duration: float, expires_in: float) -> int:
    # Renewal comes at least 85 % into a lifetime (10 % margin + up to 5 % jitter).
    return math.floor(duration / (0.85 * expires_in)) + 2


@pytest.mark.slow
def test_live_64_async_senders_share_one_renewal_per_lifetime(
    token_server: tuple[TokenServer, str], secret_log_check: Check
) -> None:
    server, url = token_server
    # 4 s tokens: long enough that a request delayed by a loaded machine still meets a live
    # token (after at most the one renewal and retry), short enough for three in the run.
    server.expires_in, server.token_delay = 4, 0.05
    server.leeway = 1.0  # late deliveries pass; renewing before expiry is tested above
    duration = 9.0  # renewals near 3.5 s and 7 s: three tokens in all

    elapsed = duration

    async def run() -> int:
        nonlocal elapsed
        async with make_async_client(live_auth(url), destinations=LOOPBACK) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            stop = started + duration

            async def sender() -> int:
                sent = 0
                while loop.time() < stop:
                    response = await client.get(f"{url}/resource")
                    assert response.status_code == 200
                    sent += 1
                return sent

            total = sum(await asyncio.gather(*(sender() for _ in range(64))))
            elapsed = loop.time() - started
            return total

    sent = asyncio.run(run())
    assert sent > 64 * 3  # every sender went through several renewals' worth of requests
    # Bounded by the time the senders really ran: on a loaded machine the last requests finish
    # after `duration`, and a lifetime that runs out meanwhile is renewed once more, rightly.
    assert 3 <= server.token_requests <= expected_max_token_requests(max(duration, elapsed), 4)
    secret_log_check([CLIENT_SECRET, *server.issued])


@pytest.mark.slow
def test_live_threaded_sync_senders_share_one_renewal_per_lifetime(
    token_server: tuple[TokenServer, str],
) -> None:
    server, url = token_server
    server.expires_in, server.token_delay = 2, 0.05
    server.leeway = 1.0  # late deliveries pass; renewing before expiry is tested above
    duration, errors = 3.0, []
    auth = live_auth(url)

    with make_client(auth, destinations=LOOPBACK) as client:
        stop = time.monotonic() + duration

        def sender() -> None:
            while time.monotonic() < stop:
                status = client.get(f"{url}/resource").status_code
                if status != 200:
                    errors.append(status)

        threads = [threading.Thread(target=sender) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert 2 <= server.token_requests <= expected_max_token_requests(duration, 2)


@pytest.mark.slow
def test_live_two_processes_sharing_a_store_renew_once_per_lifetime(
    token_server: tuple[TokenServer, str],
) -> None:
    """Two auth instances (two 'processes') share one store whose lease is a real lock.

    Process A runs 16 asyncio senders on its own event loop and thread; process B
    runs 16 threads over a sync client. They share nothing but the store.
    """
    server, url = token_server
    server.expires_in, server.token_delay = 2, 0.05
    server.leeway = 1.0  # late deliveries pass; renewing before expiry is tested above
    duration = 3.0
    store = InMemoryTokenStore()
    process_a, process_b = live_auth(url, store), live_auth(url, store)
    stop = time.monotonic() + duration
    sent = {"a": 0, "b": 0}
    failures: list[int] = []

    async def run_a() -> None:
        async with make_async_client(process_a, destinations=LOOPBACK) as client:

            async def sender() -> None:
                while time.monotonic() < stop:
                    status = (await client.get(f"{url}/resource")).status_code
                    sent["a"] += 1
                    if status != 200:
                        failures.append(status)

            await asyncio.gather(*(sender() for _ in range(16)))

    with make_client(process_b, destinations=LOOPBACK) as client_b:

        def sender_b() -> None:
            while time.monotonic() < stop:
                status = client_b.get(f"{url}/resource").status_code
                sent["b"] += 1
                if status != 200:
                    failures.append(status)

        threads = [threading.Thread(target=asyncio.run, args=(run_a(),))]
        threads += [threading.Thread(target=sender_b) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert failures == []
    assert sent["a"] > 16
    assert sent["b"] > 16
    assert 2 <= server.token_requests <= expected_max_token_requests(duration, 2)
    assert store.saves == server.token_requests


def test_unreachable_token_endpoint_releases_lock_and_lease() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    store = InMemoryTokenStore()
    auth = live_auth(dead, store)
    with make_client(auth, destinations=LOOPBACK) as client:
        for _ in range(2):  # a second attempt is not blocked by the first
            with pytest.raises(httpx.ConnectError):
                client.get(f"{dead}/resource")
    assert not auth._thread_lock.locked()
    assert store.try_acquire_lease("someone-else", ttl=1)

    async def run() -> None:
        async with make_async_client(
            live_auth(dead, InMemoryTokenStore()), destinations=LOOPBACK
        ) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{dead}/resource")

    asyncio.run(run())


def test_live_401_storm_from_64_senders_renews_once(token_server: tuple[TokenServer, str]) -> None:
    """The provider revokes the token under 64 in-flight senders: one renewal serves all."""
    server, url = token_server

    async def run() -> list[int]:
        async with make_async_client(live_auth(url), destinations=LOOPBACK) as client:
            await client.get(f"{url}/resource")
            server.issued.clear()  # every sender's next request gets 401
            responses = await asyncio.gather(*(client.get(f"{url}/resource") for _ in range(64)))
            return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 64
    assert server.token_requests == 2
    assert server.resource_rejections >= 1  # each rejected request was retried once
    assert server.resource_requests == 1 + 64 + server.resource_rejections
