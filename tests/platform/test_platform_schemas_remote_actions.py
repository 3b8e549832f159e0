"""Remote Actions API: every documented limit, just inside and just outside."""

import uuid
from typing import Any

import pytest

from credgate.platform.schemas import RequestError, remote_actions
from support.platform_data import assert_invalid_unless, refusal

DEVICE = "0b7c1c9e-2f5a-4d0e-9a51-1d2f3c4b5a69"


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"remoteActionId": "#get_info", "devices": [DEVICE]}
    base.update(changes)
    return base


def test_minimal_request_and_defaults() -> None:
    request = remote_actions.parse_execute(body())
    assert request.remote_action_id == "#get_info"
    assert request.devices == [DEVICE]
    assert request.params == {}
    assert request.expires_in_minutes == 60
    assert request.trigger_info is None


def test_full_request() -> None:
    request = remote_actions.parse_execute(
        body(
            params={"k": "v"},
            expiresInMinutes=120,
            triggerInfo={"externalSource": "ITSM", "reason": "ticket", "externalReference": "T1"},
        )
    )
    assert request.params == {"k": "v"}
    assert request.trigger_info is not None
    assert request.trigger_info.external_source == "ITSM"
    assert request.trigger_info.external_reference == "T1"


@pytest.mark.parametrize(
    ("changes", "valid", "message"),
    [
        ({"devices": [DEVICE] * 1}, True, ""),
        ({"devices": [DEVICE] * 10_000}, True, ""),
        ({"devices": []}, False, "devices: must not be empty"),
        ({"devices": [DEVICE] * 10_001}, False, "devices: at most 10000 items"),
        ({"expiresInMinutes": 60}, True, ""),
        ({"expiresInMinutes": 10_080}, True, ""),
        ({"expiresInMinutes": 59}, False, "expiresInMinutes: must be at least 60"),
        ({"expiresInMinutes": 10_081}, False, "expiresInMinutes: must be at most 10080"),
        ({"expiresInMinutes": "60"}, False, "expiresInMinutes: must be an integer"),
        ({"expiresInMinutes": True}, False, "expiresInMinutes: must be an integer"),
        ({"triggerInfo": {"reason": "r" * 500}}, True, ""),
        (
            {"triggerInfo": {"reason": "r" * 501}},
            False,
            "triggerInfo.reason: at most 500 characters",
        ),
        ({"params": {"a": 1}}, False, "params.a: must be a string"),
        ({"params": []}, False, "params: must be an object"),
        # Collector IDs are documented as plain strings.
        ({"devices": ["not-a-uuid"]}, True, ""),
        ({"devices": [5]}, False, "devices[0]: must be a string"),
        ({"remoteActionId": ""}, False, "remoteActionId: must not be empty"),
        ({"remoteActionId": None}, False, "remoteActionId: must be a string"),
    ],
)
def test_limits(changes: dict[str, Any], valid: bool, message: str) -> None:
    assert_invalid_unless(remote_actions.parse_execute, body(**changes), None if valid else message)


@pytest.mark.parametrize("missing", ["remoteActionId", "devices"])
def test_required_fields(missing: str) -> None:
    data = body()
    del data[missing]
    refused = refusal(remote_actions.parse_execute, data)
    assert refused.body["message"] == f"{missing}: is required"


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(RequestError) as info:
        remote_actions.parse_execute({"devices": [], "expiresInMinutes": 1})
    message = str(info.value.body["message"])
    for name in ("remoteActionId", "devices", "expiresInMinutes"):
        assert name in message


def test_details_query() -> None:
    assert remote_actions.parse_details_query({"nql-id": "#ra"}) == "#ra"
    with pytest.raises(RequestError) as info:
        remote_actions.parse_details_query({})
    # The operation documents 404, not 400, for a request naming no remote action.
    assert info.value.status == 404
    assert info.value.body == {"code": "NOT_FOUND", "message": "nql-id: is required"}


def test_execute_response() -> None:
    request_id = uuid.uuid4()
    assert remote_actions.execute_response(request_id, 60) == {
        "requestId": str(request_id),
        "expiresInMinutes": 60,
    }


def test_remote_action_shape() -> None:
    action = remote_actions.RemoteAction(
        id="#get_info",
        uuid=DEVICE,
        name="Get info",
        purpose=("DATA_COLLECTION",),
        targeting=remote_actions.Targeting(api_enabled=True),
        script_info=remote_actions.ScriptInfo(has_script_windows=True, inputs=({"name": "x"},)),
    )
    shaped = remote_actions.remote_action_body(action)
    assert set(shaped) == {
        "id", "uuid", "name", "description", "origin", "builtInContentVersion",
        "purpose", "targeting", "scriptInfo",
    }  # fmt: skip
    assert shaped["targeting"] == {
        "apiEnabled": True,
        "manualEnabled": False,
        "workflowEnabled": False,
        "manualAllowMultipleDevices": False,
    }
    script_info = shaped["scriptInfo"]
    assert isinstance(script_info, dict)
    assert set(script_info) == {
        "executionServiceDelegate", "runAs", "timeoutSeconds", "hasScriptWindows",
        "hasScriptMacOs", "inputs", "outputs",
    }  # fmt: skip
    assert shaped["purpose"] == ["DATA_COLLECTION"]
    assert action.api_triggerable
    assert not remote_actions.RemoteAction(id="#x", uuid=DEVICE, name="x").api_triggerable


def test_documented_strings_and_script_fields() -> None:
    """``executionServiceDelegate`` and ``builtInContentVersion`` are strings, never false or
    null; inputs and outputs carry every field the document requires."""
    action = remote_actions.RemoteAction(
        "#ra",
        "0b7a4c1e-9f2d-4c3b-8a6e-1d2c3b4a5f60",
        "RA",
        script_info=remote_actions.ScriptInfo(
            inputs=({"name": "drive"},), outputs=({"id": "free", "name": "Free"},)
        ),
    )
    body = remote_actions.remote_action_body(action)
    assert body["builtInContentVersion"] == ""
    script = body["scriptInfo"]
    assert isinstance(script, dict)
    assert script["executionServiceDelegate"] == ""
    assert script["inputs"] == [
        {
            "id": "drive",
            "name": "drive",
            "description": "",
            "usedByWindows": True,
            "usedByMacOs": False,
            "options": [],
            "allowCustomValue": True,
        }
    ]
    assert script["outputs"][0]["type"] == "string"
    assert [remote_actions.wire_text(v) for v in (None, False, True, "x")] == ["", "", "true", "x"]
