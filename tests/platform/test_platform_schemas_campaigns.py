"""Campaigns API: limits, SID checks, duplicate SIDs dropped in order, response shape."""

import uuid
from typing import Any

import pytest

from credgate.platform.schemas import campaigns
from support.platform_data import assert_invalid_unless, refusal


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "campaignNqlId": "#survey",
        "userSid": ["S-1-5-21"],
        "expiresInMinutes": 60,
    }
    base.update(changes)
    return base


def sids(n: int) -> list[str]:
    return [f"S-1-5-{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"userSid": sids(1)}, None),
        ({"userSid": sids(10_000)}, None),
        ({"userSid": []}, "userSid: must not be empty"),
        ({"userSid": sids(10_001)}, "userSid: at most 10000 items"),
        ({"expiresInMinutes": 1}, None),
        ({"expiresInMinutes": 525_600}, None),
        ({"expiresInMinutes": 0}, "expiresInMinutes: must be at least 1"),
        ({"expiresInMinutes": 525_601}, "expiresInMinutes: must be at most 525600"),
        ({"parameters": {f"p{i}": "v" for i in range(30)}}, None),
        ({"parameters": {f"p{i}": "v" for i in range(31)}}, "parameters: at most 30 items"),
        ({"parameters": {"p": 1}}, "parameters.p: must be a string"),
        # Plain strings, as documented; a malformed SID fails that user alone.
        ({"userSid": ["S-1"]}, None),
        ({"userSid": [1]}, "userSid[0]: must be a string"),
        ({"campaignNqlId": ""}, "campaignNqlId: must not be empty"),
    ],
)
def test_limits(changes: dict[str, Any], message: str | None) -> None:
    assert_invalid_unless(campaigns.parse_trigger, body(**changes), message)


@pytest.mark.parametrize("missing", ["campaignNqlId", "userSid", "expiresInMinutes"])
def test_required(missing: str) -> None:
    data = body()
    del data[missing]
    assert refusal(campaigns.parse_trigger, data).body["message"] == f"{missing}: is required"


def test_duplicate_sids_are_dropped_keeping_order() -> None:
    request = campaigns.parse_trigger(body(userSid=["S-1-2", "0", "S-1-2", "S-1-3", "0"]))
    assert request.user_sid == ["S-1-2", "0", "S-1-3"]


def test_trigger_response_omits_absent_keys() -> None:
    rid = uuid.uuid4()
    assert campaigns.trigger_response(
        [
            campaigns.TriggerOutcome("S-1-2", request_id=rid),
            campaigns.TriggerOutcome("S-1-3", message="user not found"),
        ]
    ) == {
        "requests": [
            {"requestId": str(rid), "userSid": "S-1-2"},
            {"userSid": "S-1-3", "message": "user not found"},
        ]
    }


def test_outcomes_fail_malformed_sids_alone() -> None:
    good, bad = campaigns.outcomes(["S-1-5-21-7", "S-1"])
    assert good.request_id is not None
    assert good.message is None
    assert bad.request_id is None
    assert bad.message == "userSid: 'S-1' is not a SID"
