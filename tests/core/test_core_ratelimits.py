"""Per-credential rate limits on one node, SQLite alone: the in-memory moving window.

Each test sends real requests through the whole application (ingress, rate limit, bearer guard,
routes) with tokens issued by its own token endpoint.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from credgate.app import create_app
from credgate.client import Client, ClientConfig, RateLimitedError
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.permissions import CATALOGUE
from credgate.core.ratelimits import check_limit
from support import LiveServer, free_port

ACTOR = Actor("tests", "pytest")
WORKFLOWS = "/api/v1/workflows"
REMOTE_ACTIONS = "/api/v1/act/remote-action"


@pytest.fixture
def backend() -> str:
    """The in-memory limiter needs no shared store: these run on SQLite alone."""
    return "sqlite"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_workflows": "3/minute"}


def _credential(container: Container, name: str, **fields: Any) -> tuple[str, str]:
    created = container.api_credentials.create(
        name=name, permissions=["workflows", "remote-actions"], actor=ACTOR, **fields
    )
    return created.credential.client_id, created.client_secret


def _bearer(client: TestClient, client_id: str, secret: str) -> dict[str, str]:
    issued = client.post(
        "/oauth2/default/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


def _state(response: Any) -> tuple[str, int, int]:
    """The RateLimit field's policy name, remaining quota and seconds to reset."""
    found = re.fullmatch(r'"([a-z-]+)";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert found, response.headers["ratelimit"]
    return found[1], int(found[2]), int(found[3])


def test_n_allowed_in_the_window_then_429_with_headers(
    client: TestClient, container: Container
) -> None:
    bearer = _bearer(client, *_credential(container, "limited"))
    # Requests whose token the route refuses are not counted against anyone.
    for _ in range(4):
        refused = client.get(WORKFLOWS, headers={"Authorization": "Bearer nonsense"})
        assert refused.status_code == 401
        assert "ratelimit" not in refused.headers

    answers = [client.get(WORKFLOWS, headers=bearer) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    for answer in answers:
        assert answer.headers["ratelimit-policy"] == '"workflows";q=3;w=60'
    assert [_state(a)[1] for a in answers] == [2, 1, 0, 0, 0]
    assert all(0 < _state(a)[2] <= 60 for a in answers)

    limited = answers[3]
    retry_after = int(limited.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert retry_after == _state(limited)[2]
    assert "retry-after" not in answers[0].headers
    # The Workflows document's error shape, {code, details}.
    body = limited.json()
    assert body["code"] == "TOO_MANY_REQUESTS"
    assert "rate limit" in body["details"]
    assert limited.headers["content-type"] == "application/json"

    metrics = client.get("/metrics").text
    assert 'credgate_rate_limited_total{family="workflows"} 2.0' in metrics

    # Another family of the same credential, with no limit configured, is not limited; another
    # credential has its own count.
    assert client.get(REMOTE_ACTIONS, headers=bearer).status_code == 200
    assert "ratelimit" not in client.get(REMOTE_ACTIONS, headers=bearer).headers
    other = _bearer(client, *_credential(container, "other"))
    assert client.get(WORKFLOWS, headers=other).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_default": "4/minute"}])
def test_credential_override_beats_family_default(
    client: TestClient, container: Container, admin_token: str
) -> None:
    own_id, own_secret = _credential(container, "own", rate_limit="2 per minute")
    own = _bearer(client, own_id, own_secret)
    plain = _bearer(client, *_credential(container, "plain"))

    own_answers = [client.get(WORKFLOWS, headers=own).status_code for _ in range(3)]
    assert own_answers == [200, 200, 429]
    assert client.get(WORKFLOWS, headers=own).headers["ratelimit-policy"] == (
        '"workflows";q=2;w=60'
    )
    plain_answers = [client.get(WORKFLOWS, headers=plain) for _ in range(5)]
    assert [a.status_code for a in plain_answers] == [200, 200, 200, 200, 429]
    assert plain_answers[0].headers["ratelimit-policy"] == '"workflows";q=4;w=60'

    # Removing the override through the admin API takes effect on the next request.
    admin = {"Authorization": f"Bearer {admin_token}"}
    cleared = client.patch(
        f"/admin/api/v1/api-credentials/{own_id}", json={"rate_limit": None}, headers=admin
    )
    assert cleared.status_code == 200
    assert cleared.json()["rate_limit"] is None
    after = client.get(WORKFLOWS, headers=own)
    assert after.status_code == 200
    assert after.headers["ratelimit-policy"] == '"workflows";q=4;w=60'
    # And setting one again.
    raised = client.patch(
        f"/admin/api/v1/api-credentials/{own_id}", json={"rate_limit": "1/hour"}, headers=admin
    )
    assert raised.json()["rate_limit"] == "1/hour"
    assert client.get(WORKFLOWS, headers=own).headers["ratelimit-policy"] == (
        '"workflows";q=1;w=3600'
    )


def test_override_without_any_family_limit(client: TestClient, container: Container) -> None:
    bearer = _bearer(client, *_credential(container, "alone", rate_limit="1/minute"))
    # Remote Actions has no limit of its own; the credential's applies to every family.
    first, second = (client.get(REMOTE_ACTIONS, headers=bearer) for _ in range(2))
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["code"] == "TOO_MANY_REQUESTS"
    assert "rate limit" in second.json()["message"]


@pytest.mark.parametrize("bad", ["lots", "5/fortnight", "0/minute", "1/second;5/minute", "9" * 101])
def test_bad_limits_are_refused_naming_the_field(admin_client: TestClient, bad: str) -> None:
    created = admin_client.post(
        "/admin/api/v1/api-credentials",
        json={"name": "x", "permissions": ["nql"], "rate_limit": bad},
    )
    assert created.status_code == 422, created.text
    assert "rate_limit" in created.text
    good = admin_client.post(
        "/admin/api/v1/api-credentials", json={"name": "y", "permissions": ["nql"]}
    ).json()
    patched = admin_client.patch(
        f"/admin/api/v1/api-credentials/{good['client_id']}", json={"rate_limit": bad}
    )
    assert patched.status_code == 422
    assert "rate_limit" in patched.text


def test_bad_setting_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(rate_limit_nql="sixty a minute")
    assert "rate_limit_nql" in str(info.value)
    with pytest.raises(ValidationError) as info:
        Settings(redis_url="http://127.0.0.1:6379")
    assert "redis_url" in str(info.value)


def test_every_family_has_its_setting() -> None:
    settings = Settings(rate_limit_data_management="5/second", rate_limit_default="9/hour")
    assert set(settings.rate_limits) == {p.id for p in CATALOGUE}
    assert settings.rate_limits["data-management"] == "5/second"
    assert check_limit("  ") is None
    assert check_limit(" 10 per hour ") == "10 per hour"


def test_redis_url_is_not_shown() -> None:
    settings = Settings(redis_url="redis://:hunter2hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings)


@pytest.fixture
def live_settings_overrides() -> dict[str, Any]:
    return {"rate_limit_workflows": "2/second"}


def _call_until_refused(client: Client) -> None:
    for _ in range(10):
        client.request("GET", WORKFLOWS)


def test_sdk_waits_for_retry_after(live_server: LiveServer) -> None:
    container = live_server.app.container
    client_id, secret = _credential(container, "sdk")
    config = ClientConfig(base_url=live_server.url, client_id=client_id, client_secret=secret)
    with Client(config) as client:
        # The third request in the second is answered 429, Retry-After: 1; the SDK waits, retries.
        answers = [client.request("GET", WORKFLOWS) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
    impatient = ClientConfig(
        base_url=live_server.url,
        client_id=client_id,
        client_secret=secret,
        max_rate_limit_retries=0,
    )
    with Client(impatient) as client, pytest.raises(RateLimitedError) as info:
        _call_until_refused(client)
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 1


@pytest.mark.parametrize(
    "settings_overrides",
    [{"rate_limit_workflows": "1/minute", "redis_url": f"redis://127.0.0.1:{free_port()}/0"}],
)
def test_unreachable_redis_serves_uncounted(
    client: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    bearer = _bearer(client, *_credential(container, "no-redis"))
    answers = [client.get(WORKFLOWS, headers=bearer) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "ratelimit" not in answers[0].headers
    warnings = [r for r in caplog.records if r.name == "credgate.ratelimits"]
    assert len(warnings) == 1  # said once, not once a request
    assert "not being counted" in warnings[0].getMessage()


def test_override_survives_an_eviction_during_the_request(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync loop may evict a credential's record between the bearer check and the look-up
    of its limit: the limit is then loaded again, never taken to be absent."""
    client_id, secret = _credential(container, "evicted", rate_limit="2/minute")
    with TestClient(create_app(container=container)) as client:
        bearer = _bearer(client, client_id, secret)
    accepts = container.bearer_guard.accepts

    async def accepts_then_evict(authorization: Any, permission: Any) -> Any:
        verified = await accepts(authorization, permission)
        container.registry.evict(client_id)
        return verified

    monkeypatch.setattr(container.bearer_guard, "accepts", accepts_then_evict)
    scope = {"type": "http", "headers": [(b"authorization", bearer["Authorization"].encode())]}
    caller = asyncio.run(container.rate_limited_caller(scope, "workflows"))
    assert caller == (client_id, "2/minute")
