"""Token handling: the sans-IO flow driven by hand, then real HTTP against the contract server."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from contract_server import ContractServer, Target

from credgate.client import (
    LEGACY_TOKEN_PATH,
    AsyncClient,
    AuthenticationError,
    Client,
    ClientConfig,
    NeedToken,
    RateLimitedError,
    Sleep,
    TokenError,
    TokenFlow,
)
from support import hammer
from support.sdk import concurrent_rounds

SECRET = "cgs_unit-secret_0123456789abcdef"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def unit_config(**overrides: object) -> ClientConfig:
    options: dict[str, object] = {
        "base_url": "https://gate.example",
        "client_id": "client-1",
        "client_secret": SECRET,
    }
    options.update(overrides)
    return ClientConfig(**options)  # type: ignore[arg-type]


def served_config(contract: ContractServer, **options: object) -> ClientConfig:
    """A configuration with the contract server's own credential."""
    state = contract.state
    return ClientConfig(
        base_url=contract.base_url,
        client_id=state.client_id,
        client_secret=state.client_secret,
        **options,  # type: ignore[arg-type]
    )


def token_response(request: httpx.Request, value: str, expires_in: int = 900) -> httpx.Response:
    return httpx.Response(
        200,
        json={"token_type": "Bearer", "expires_in": expires_in, "access_token": value},
        request=request,
    )


def fetch(flow: TokenFlow, value: str, expires_in: int = 900) -> str:
    steps = flow.token_flow()
    request = next(steps)
    assert isinstance(request, httpx.Request)
    with pytest.raises(StopIteration) as done:
        steps.send(token_response(request, value, expires_in))
    return str(done.value.value)


# --- sans-IO ---------------------------------------------------------------------------------


def test_token_request_is_client_credentials_with_basic_auth() -> None:
    request = TokenFlow(unit_config()).build_token_request()
    assert request.method == "POST"
    assert str(request.url) == "https://gate.example/oauth2/default/v1/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["service:integration"],
    }
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"client-1:{SECRET}"


def test_client_secret_post_puts_credentials_in_the_body() -> None:
    request = TokenFlow(unit_config(token_auth_method="client_secret_post")).build_token_request()
    assert "authorization" not in request.headers
    form = parse_qs(request.content.decode())
    assert form["client_id"] == ["client-1"]
    assert form["client_secret"] == [SECRET]


def test_token_is_cached_and_renewed_ahead_of_expiry() -> None:
    clock = FakeClock()
    flow = TokenFlow(unit_config(renew_margin=60), clock=clock)
    assert flow.current() is None
    assert fetch(flow, "tok-1", expires_in=900) == "tok-1"
    clock.now += 839
    assert flow.current() == "tok-1"
    clock.now += 2  # inside the 60 s margin before expiry
    assert flow.current() is None


def test_renewal_margin_is_at_most_a_tenth_of_a_short_lifetime() -> None:
    clock = FakeClock()
    flow = TokenFlow(unit_config(renew_margin=60), clock=clock)
    fetch(flow, "short", expires_in=2)
    clock.now += 1.7
    assert flow.current() == "short"
    clock.now += 0.2
    assert flow.current() is None


def test_request_flow_renews_and_retries_exactly_once_on_401() -> None:
    flow = TokenFlow(unit_config())
    api = httpx.Request("GET", "https://gate.example/api/v1/workflows")
    steps = flow.request_flow(api)
    assert next(steps) == NeedToken()
    sent = steps.send("tok-1")
    assert sent is api
    assert api.headers["authorization"] == "Bearer tok-1"
    need = steps.send(httpx.Response(401, request=api))
    assert need == NeedToken(stale="tok-1")
    assert "tok-1" not in repr(need)
    again = steps.send("tok-2")
    assert isinstance(again, httpx.Request)
    assert again.headers["authorization"] == "Bearer tok-2"
    with pytest.raises(StopIteration):  # a second 401 is the caller's answer
        steps.send(httpx.Response(401, request=api))


def test_request_flow_waits_on_429_within_bounds() -> None:
    flow = TokenFlow(unit_config(max_rate_limit_retries=2, max_retry_wait=5))
    api = httpx.Request("POST", "https://gate.example/api/v1/act/execute", content=b"{}")
    steps = flow.request_flow(api)
    next(steps)
    steps.send("tok")
    too_many = httpx.Response(429, headers={"Retry-After": "2"}, request=api)
    assert steps.send(too_many) == Sleep(2.0)
    assert steps.send(None) is api
    capped = httpx.Response(429, headers={"Retry-After": "3600"}, request=api)
    assert steps.send(capped) == Sleep(5.0)
    assert steps.send(None) is api
    with pytest.raises(StopIteration):  # bounded: the third 429 goes back to the caller
        steps.send(too_many)


def test_retry_after_as_http_date() -> None:
    flow = TokenFlow(unit_config(max_retry_wait=100))
    request = httpx.Request("GET", "https://gate.example/x")
    future = time.time() + 30
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(future))
    wait = flow.retry_wait(httpx.Response(429, headers={"Retry-After": header}, request=request), 1)
    assert 25 <= wait <= 31


def test_token_endpoint_error_carries_the_rfc6749_code() -> None:
    flow = TokenFlow(unit_config())
    steps = flow.token_flow()
    request = next(steps)
    assert isinstance(request, httpx.Request)
    refused = httpx.Response(
        401, json={"error": "invalid_client", "error_description": "bad client"}, request=request
    )
    with pytest.raises(TokenError) as info:
        steps.send(refused)
    assert info.value.error == "invalid_client"
    assert info.value.status_code == 401
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer", "expires_in": 900},
        {"token_type": "mac", "expires_in": 900, "access_token": "x"},
        {"token_type": "Bearer", "expires_in": "soon", "access_token": "x"},
    ],
)
def test_malformed_token_response_is_a_token_error(body: dict[str, object]) -> None:
    flow = TokenFlow(unit_config())
    steps = flow.token_flow()
    request = next(steps)
    assert isinstance(request, httpx.Request)
    with pytest.raises(TokenError):
        steps.send(httpx.Response(200, json=body, request=request))
    assert flow.current() is None


# --- real HTTP -------------------------------------------------------------------------------


def test_token_is_fetched_once_and_sent_as_documented(contract: ContractServer) -> None:
    state = contract.state
    config = served_config(contract)
    with Client(config) as client:
        for _ in range(5):
            client.list_workflows()
    assert state.token_requests == 1
    call = state.token_calls[0]
    assert call.path == "/oauth2/default/v1/token"
    assert parse_qs(call.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["service:integration"],
    }
    assert base64.b64decode(call.headers["authorization"][6:]).decode() == (
        f"{state.client_id}:{state.client_secret}"
    )
    assert {r.headers["authorization"] for r in state.requests} == {f"Bearer {state.issued[0]}"}


def test_legacy_token_path(contract: ContractServer) -> None:
    state = contract.state
    config = served_config(contract, token_path=LEGACY_TOKEN_PATH)
    with Client(config) as client:
        assert client.list_workflows()
    assert [c.path for c in state.token_calls] == ["/api/v1/token"]


def test_client_secret_post_against_the_server(contract: ContractServer) -> None:
    state = contract.state
    config = served_config(contract, token_auth_method="client_secret_post")
    with Client(config) as client:
        assert client.list_remote_actions()
    assert "authorization" not in state.token_calls[0].headers


def test_sync_renewal_across_several_lifetimes(
    contract: ContractServer, config: ClientConfig
) -> None:
    contract.state.token_lifetime = 1
    with Client(config) as client:
        for lifetime in range(1, 4):
            for _ in range(3):
                client.list_workflows()
            assert contract.state.token_requests == lifetime
            time.sleep(0.95)  # past the renewal point (0.9 s for a 1 s token)
    assert len(set(contract.state.issued)) == 3
    assert all(
        r.headers["authorization"] == f"Bearer {contract.state.issued[i // 3]}"
        for i, r in enumerate(contract.state.requests)
    )


def test_threads_share_one_token_request(contract: ContractServer, config: ClientConfig) -> None:
    start = threading.Barrier(16)

    def call(client: Client) -> int:
        start.wait()
        return len(client.list_workflows())

    with Client(config) as client, ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, [client] * 16))
    assert results == [1] * 16
    assert contract.state.token_requests == 1


def test_48_threads_on_one_client_keep_their_connections_and_lose_no_request(
    contract: ContractServer, config: ClientConfig
) -> None:
    # More threads than httpx's default 20 keep-alive slots, with the interpreter switching
    # threads as often as it can: a pool that closes "surplus idle" connections hands a thread
    # a connection another thread is closing (ReadError: Bad file descriptor) and reconnects
    # over and over. Every connection the client opens must stay open and every call succeed.
    with Client(config) as client:
        errors = hammer(client.list_workflows, threads=48)
    assert errors == []
    peers = {recorded.peer for recorded in contract.state.requests}
    assert len(peers) <= 48


def test_100_async_tasks_make_one_token_request_per_lifetime(
    contract: ContractServer, config: ClientConfig
) -> None:
    # 3 s tokens are renewed 0.3 s early. Each round of 100 concurrent calls should share one
    # token request; a round that a loaded machine stretches past the renewal point may
    # legitimately need one more, so that allowance is computed from the round's duration.
    lifetime = 3
    contract.state.token_lifetime = lifetime

    def check(results: list[Any]) -> None:
        assert all(len(r) == 1 for r in results)

    async def scenario() -> list[tuple[int, float]]:
        async with AsyncClient(config) as client:
            return await concurrent_rounds(client, lambda: contract.state.token_requests, check)

    rounds = asyncio.run(scenario())
    for made, took in rounds:
        assert 1 <= made <= 1 + int(took // (lifetime * 0.9)), rounds
    assert len(contract.state.requests) == 300
    tokens_used = {r.headers["authorization"] for r in contract.state.requests}
    assert len(tokens_used) == contract.state.token_requests


def test_revoked_token_is_renewed_and_the_call_retried_once(
    contract: ContractServer, config: ClientConfig
) -> None:
    with Client(config) as client:
        client.list_workflows()
        contract.state.revoke_all()
        assert client.list_workflows()[0].name == "Restart service"
    assert contract.state.token_requests == 2
    assert len(contract.state.requests) == 3


def test_async_401_renews_once(contract: ContractServer, config: ClientConfig) -> None:
    async def scenario() -> None:
        async with AsyncClient(config) as client:
            await client.list_workflows()
            contract.state.revoke_all()
            results = await asyncio.gather(*(client.list_workflows() for _ in range(20)))
            assert len(results) == 20

    asyncio.run(scenario())
    assert contract.state.token_requests == 2


def test_persistent_401_raises_after_one_retry(
    contract: ContractServer, config: ClientConfig
) -> None:
    contract.state.inject(
        401,
        {"message": "token refused"},
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        times=5,
    )
    with Client(config) as client, pytest.raises(AuthenticationError) as info:
        client.list_workflows()
    assert info.value.status_code == 401
    assert len(contract.state.requests) == 2
    assert contract.state.token_requests == 2


def test_429_retry_after_is_honoured_then_success(
    contract: ContractServer, config: ClientConfig
) -> None:
    contract.state.inject(429, {"message": "slow down"}, headers={"Retry-After": "1"})
    with Client(config) as client:
        started = time.monotonic()
        workflows = client.list_workflows()
        elapsed = time.monotonic() - started
    assert workflows[0].id == "#wf_restart"
    assert elapsed >= 0.95
    assert len(contract.state.requests) == 2


def test_429_async_retry_after_is_honoured(contract: ContractServer, config: ClientConfig) -> None:
    contract.state.inject(429, headers={"Retry-After": "0.3"})

    async def scenario() -> float:
        async with AsyncClient(config) as client:
            started = time.monotonic()
            await client.list_remote_actions()
            return time.monotonic() - started

    assert asyncio.run(scenario()) >= 0.28
    assert len(contract.state.requests) == 2


def test_429_retries_are_bounded(contract: ContractServer, target: Target) -> None:
    config = ClientConfig(
        base_url=target.base_url,
        client_id=target.client_id,
        client_secret=target.client_secret,
        max_rate_limit_retries=2,
        max_retry_wait=0.05,
    )
    contract.state.inject(429, {"code": "DAILY_LIMIT"}, headers={"Retry-After": "3600"}, times=10)
    started = time.monotonic()
    with Client(config) as client, pytest.raises(RateLimitedError) as info:
        client.nql_export_status("exp-1")
    assert time.monotonic() - started < 2  # the 3600 s hint was capped
    assert info.value.retry_after is not None
    assert info.value.retry_after > 3500
    assert info.value.code == "DAILY_LIMIT"
    assert len(contract.state.requests) == 3


def test_token_endpoint_429_is_waited_out(contract: ContractServer, config: ClientConfig) -> None:
    contract.state.inject(
        429, {"error": "slow_down"}, headers={"Retry-After": "0.2"}, token_endpoint=True
    )
    with Client(config) as client:
        assert client.list_workflows()
    assert contract.state.token_requests == 2


def test_wrong_secret_is_a_token_error(target: Target) -> None:
    config = ClientConfig(
        base_url=target.base_url, client_id=target.client_id, client_secret="cgs_wrong-secret"
    )
    with Client(config) as client, pytest.raises(TokenError) as info:
        client.list_workflows()
    assert info.value.error == "invalid_client"
    assert info.value.status_code == 401
    assert "cgs_wrong-secret" not in str(info.value)


def test_no_secret_or_token_is_logged(
    contract: ContractServer, config: ClientConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contract.state.inject(429, headers={"Retry-After": "0"})
    with Client(config) as client:
        client.list_workflows()
        contract.state.revoke_all()
        client.list_workflows()
        contract.state.inject(401, times=2)
        with pytest.raises(AuthenticationError) as info:
            client.list_workflows()
    messages = [record.getMessage() for record in caplog.records]
    assert any("renewing the token" in m for m in messages)
    assert any("429" in m for m in messages)
    issued = contract.state.issued
    assert len(issued) == 3  # first, after the revocation, after the first injected 401
    for text in [*messages, str(info.value), repr(info.value), repr(client)]:
        assert config.client_secret not in text
        assert base64.b64encode(config.client_secret.encode()).decode()[:16] not in text
        for token in issued:
            assert token not in text
