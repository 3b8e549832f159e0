"""OAuth 2.0 authorization code auth against a real Authlib authorization server.

The server is Authlib's framework-free ``AuthorizationServer`` with
``AuthorizationCodeGrant`` + ``CodeChallenge(required=True)`` and a rotating
``RefreshTokenGrant``, behind a minimal Starlette adapter (Authlib ships no
Starlette server integration), served by uvicorn on loopback (support/provider.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from credgate.connectors.auth import (
    ConsentError,
    InMemoryTokenStore,
    OAuth2AuthorizationCodeAuth,
    ReconnectNeeded,
    RenewalError,
    Token,
    afinish_consent,
    consent_exchange_flow,
    finish_consent,
    make_async_client,
    make_client,
    start_consent,
)
from support import LOOPBACK, ThreadServer
from support.provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    USER,
    Provider,
    ProviderState,
)

Check = Callable[[Iterable[str]], None]


@pytest.fixture
def provider() -> Any:
    state = ProviderState()
    with ThreadServer(Provider(state).app()) as server:
        yield state, server.url


@contextmanager
def browser_logs_quiet() -> Iterator[None]:
    """The browser's leg is not credgate's: its httpcore DEBUG trace prints the
    response headers, including the Location that carries the code."""
    logger = logging.getLogger("httpcore")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def exchange(
    token_url: str, expected_state: str, code_verifier: str, callback_params: dict[str, str]
) -> dict[str, Any]:
    """The arguments of finishing a consent as this test's client, at ``token_url``."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_url": token_url,
        "redirect_uri": REDIRECT_URI,
        "expected_state": expected_state,
        "code_verifier": code_verifier,
        "callback_params": callback_params,
    }


def authorize(client: httpx.Client, url: str) -> tuple[str, str, dict[str, str]]:
    """Start a consent for ``read`` and follow the provider's answer, as the browser would:
    the state and verifier kept, and the parameters of the callback."""
    authorization_url, state, verifier = start_consent(
        CLIENT_ID, f"{url}/authorize", REDIRECT_URI, "read"
    )
    location = client.get(authorization_url).headers["Location"]
    return state, verifier, dict(parse_qsl(urlsplit(location).query))


def consent(url: str, scope: str = "read offline_access") -> tuple[Token, str]:
    """The whole round-trip: start, follow the browser redirect, finish."""
    consent_request = start_consent(CLIENT_ID, f"{url}/authorize", REDIRECT_URI, scope)
    authorization_url, state, code_verifier = consent_request
    with make_client(destinations=LOOPBACK) as browser, browser_logs_quiet():
        answer = browser.get(authorization_url)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = dict(parse_qsl(urlsplit(location).query))
    with make_client(destinations=LOOPBACK) as client:
        token = finish_consent(client, **exchange(f"{url}/token", state, code_verifier, params))
    return token, params["code"]


# --- tests ------------------------------------------------------------------------------


def test_start_consent_builds_pkce_s256_request() -> None:
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    first = start_consent(CLIENT_ID, "https://idp.example/authorize", REDIRECT_URI, "read")
    second = start_consent(CLIENT_ID, "https://idp.example/authorize", REDIRECT_URI, "read")
    query = parse_qs(urlsplit(first.url).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["read"]
    assert query["state"] == [first.state]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [create_s256_code_challenge(first.code_verifier)]
    assert first.code_verifier not in first.url
    assert 43 <= len(first.code_verifier) <= 128
    assert first.state != second.state
    assert first.code_verifier != second.code_verifier
    assert first.state not in repr(first)
    assert first.code_verifier not in repr(first)


def test_consent_exchange_by_hand_checks_state_then_posts_code_and_verifier() -> None:
    flow = consent_exchange_flow(
        **exchange("https://idp.example/token", "s-1", "v" * 50, {"code": "c-1", "state": "s-1"})
    )
    request = next(flow)
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["c-1"]
    assert form["code_verifier"] == ["v" * 50]
    assert form["redirect_uri"] == [REDIRECT_URI]
    with pytest.raises(StopIteration) as done:
        flow.send(
            httpx.Response(
                200,
                json={"access_token": "a", "token_type": "Bearer", "refresh_token": "r"},
            )
        )
    assert done.value.value.refresh_token == "r"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code": "c-1", "state": "forged"}, "state_mismatch"),
        ({"code": "c-1"}, "state_mismatch"),
        ({"error": "access_denied", "state": "s-1"}, "access_denied"),
        ({"state": "s-1"}, "missing_code"),
    ],
)
def test_consent_callback_problems_are_refused(params: dict[str, str], error: str) -> None:
    flow = consent_exchange_flow(**exchange("https://idp.example/token", "s-1", "v" * 50, params))
    with pytest.raises(ConsentError) as caught:
        next(flow)  # refused before any request leaves
    assert caught.value.error == error


def test_refresh_flow_by_hand_rotates_and_saves_before_use() -> None:
    now = [1000.0]
    store = InMemoryTokenStore(
        Token("at-0", expires_at=1010.0, refresh_token="rt-0", scope="read", obtained_at=900.0)
    )
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID, CLIENT_SECRET, "https://idp.example/token", store=store, clock=lambda: now[0]
    )
    flow = auth.auth_flow(httpx.Request("GET", "https://api.example/x"))
    refresh = next(flow)  # 10 s left of 110: within the margin, so refresh first
    assert parse_qs(refresh.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["rt-0"],
    }
    body = {
        "access_token": "at-1",
        "token_type": "Bearer",
        "expires_in": 100,
        "refresh_token": "rt-1",
    }
    resource = flow.send(httpx.Response(200, json=body))
    saved = store.load()
    assert saved is not None
    assert saved.refresh_token == "rt-1"
    assert saved.scope == "read"
    assert resource.headers["Authorization"] == "Bearer at-1"


def test_consent_round_trip_then_refresh_with_rotation(
    provider: tuple[ProviderState, str], secret_log_check: Check
) -> None:
    state, url = provider
    token, code = consent(url)
    assert token.refresh_token
    assert token.refresh_token.startswith("rt_")
    assert token.scope == "read offline_access"
    store = InMemoryTokenStore(token)

    # Every refresh token the provider receives must already be what the store holds.
    store_at_refresh: list[str | None] = []
    state.on_refresh = lambda presented: store_at_refresh.append(
        (store.load() or Token("-")).refresh_token
    )
    statuses: list[str] = []
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID, CLIENT_SECRET, f"{url}/token", store=store, on_status=statuses.append
    )
    with make_client(auth, destinations=LOOPBACK) as client:
        assert client.get(f"{url}/resource").json() == {"user": USER}
        assert state.refresh_requests == 0  # the consented token was still fresh

        for _ in range(3):  # the provider forgets the access token: 401 -> refresh -> retry
            state.tokens.clear()
            assert client.get(f"{url}/resource").status_code == 200

    assert state.refresh_requests == 3
    assert len(set(state.presented)) == 3  # a new refresh token every time (rotation)
    assert state.presented[0] == token.refresh_token
    assert store_at_refresh == state.presented  # each was saved before it was used
    final = store.load()
    assert final is not None
    assert final.refresh_token not in state.presented
    assert state.by_refresh[final.refresh_token].revoked is False  # type: ignore[index]
    assert statuses == ["ok"]
    secret_log_check([CLIENT_SECRET, code, *state.presented, *state.by_refresh, *state.tokens])


def test_reused_refresh_token_means_reconnect_needed(
    provider: tuple[ProviderState, str], secret_log_check: Check
) -> None:
    state, url = provider
    token, _ = consent(url)
    state.expires_in = 1
    with make_client(
        destinations=LOOPBACK
    ) as client:  # someone else refreshes, and rotation revokes ours
        rotated = client.post(
            f"{url}/token",
            data={"grant_type": "refresh_token", "refresh_token": token.refresh_token or ""},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert rotated.status_code == 200
    state.tokens.clear()
    statuses: list[str] = []
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID,
        CLIENT_SECRET,
        f"{url}/token",
        store=InMemoryTokenStore(token),
        on_status=statuses.append,
    )
    with (
        make_client(auth, destinations=LOOPBACK) as client,
        pytest.raises(ReconnectNeeded) as caught,
    ):
        client.get(f"{url}/resource")
    assert str(caught.value) == "reconnect needed"
    assert caught.value.error == "invalid_grant"
    assert statuses == ["reconnect needed"]
    assert auth.status == "reconnect needed"
    secret_log_check([CLIENT_SECRET, token.refresh_token or "", token.access_token])


def test_no_stored_token_means_reconnect_needed() -> None:
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID, CLIENT_SECRET, "https://idp.example/token", store=InMemoryTokenStore()
    )
    with pytest.raises(ReconnectNeeded, match=r"^reconnect needed$"):
        next(auth.auth_flow(httpx.Request("GET", "https://api.example/x")))


def test_wrong_code_verifier_is_refused_by_the_provider(
    provider: tuple[ProviderState, str],
) -> None:
    _, url = provider
    with make_client(destinations=LOOPBACK) as client:
        state, _verifier, params = authorize(client, url)
        with pytest.raises(RenewalError) as caught:
            finish_consent(client, **exchange(f"{url}/token", state, "x" * 64, params))
    assert caught.value.error == "invalid_grant"


def test_bad_state_on_a_live_callback_is_refused(provider: tuple[ProviderState, str]) -> None:
    _, url = provider
    with make_client(destinations=LOOPBACK) as client:
        _state, verifier, params = authorize(client, url)
        with pytest.raises(ConsentError, match="state_mismatch"):
            finish_consent(
                client, **exchange(f"{url}/token", secrets.token_urlsafe(32), verifier, params)
            )


def test_async_consent_and_refresh_on_expiry(provider: tuple[ProviderState, str]) -> None:
    state, url = provider
    state.expires_in = 1  # margin 0.1 s: the token is due for refresh within a second

    async def run() -> list[int]:
        authorization_url, expected, verifier = start_consent(
            CLIENT_ID, f"{url}/authorize", REDIRECT_URI, "read offline_access"
        )
        async with make_async_client(destinations=LOOPBACK) as client:
            location = (await client.get(authorization_url)).headers["Location"]
            token = await afinish_consent(
                client,
                **exchange(
                    f"{url}/token", expected, verifier, dict(parse_qsl(urlsplit(location).query))
                ),
                token_endpoint_auth_method="client_secret_post",
            )
        auth = OAuth2AuthorizationCodeAuth(
            CLIENT_ID, CLIENT_SECRET, f"{url}/token", store=InMemoryTokenStore(token)
        )
        async with make_async_client(auth, destinations=LOOPBACK) as client:
            first = await asyncio.gather(*(client.get(f"{url}/resource") for _ in range(16)))
            await asyncio.sleep(1.0)
            second = await asyncio.gather(*(client.get(f"{url}/resource") for _ in range(16)))
        return [r.status_code for r in first + second]

    assert asyncio.run(run()) == [200] * 32
    assert state.refresh_requests == 1  # 16 concurrent senders, one refresh
