"""Workflows API: execute v1/v2 limits, SIDs, references, list filters, shapes."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from credgate.platform.schemas import RequestError, workflows

DEVICE = "0b7c1c9e-2f5a-4d0e-9a51-1d2f3c4b5a69"
SID = "S-1-5-21-1004"


def v1(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"workflowId": "#wf", "devices": [DEVICE]}
    base.update(changes)
    return base


def fails(parse: Any, data: object) -> dict[str, object]:
    with pytest.raises(RequestError) as info:
        parse(data)
    assert info.value.status == 400
    assert set(info.value.body) == {"code", "details"}
    assert info.value.body["code"] == "INVALID_REQUEST"
    return info.value.body


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"devices": [DEVICE] * 10_000}, None),
        ({"devices": [DEVICE] * 10_001}, "devices: at most 10000 items"),
        ({"users": [SID] * 10_000}, None),
        ({"users": [SID] * 10_001}, "users: at most 10000 items"),
        ({"devices": [], "users": [SID]}, None),
        ({"devices": [], "users": []}, "devices: give at least one device, or at least one user"),
        ({"users": ["S-1"]}, r"users[0]: must be a SID matching ^S(-\d+){2,10}$|^0$"),
        ({"users": ["0"]}, None),
        ({"devices": ["nope"]}, "devices[0]: must be a UUID"),
        ({"params": {"a": "b"}}, None),
        ({"params": {"a": None}}, "params.a: must be a string"),
        ({"workflowId": ""}, "workflowId: must not be empty"),
    ],
)
def test_v1_limits(changes: dict[str, Any], details: str | None) -> None:
    if details is None:
        workflows.parse_execute_v1(v1(**changes))
    else:
        assert fails(workflows.parse_execute_v1, v1(**changes))["details"] == details


def test_v1_users_alone_are_enough() -> None:
    request = workflows.parse_execute_v1({"workflowId": "#wf", "users": [SID]})
    assert request.users == [SID]
    assert request.devices == []


def test_v1_needs_devices_or_users() -> None:
    body = fails(workflows.parse_execute_v1, {"workflowId": "#wf"})
    assert str(body["details"]).startswith("devices:")


def test_v2_references() -> None:
    request = workflows.parse_execute_v2(
        {
            "workflowId": "#wf",
            "devices": [{"collectorUid": DEVICE}, {"name": "LAPTOP-1"}, {"uid": DEVICE}],
            "users": [{"sid": SID}, {"upn": "a@b.c"}, {"uid": DEVICE}],
        }
    )
    assert request.devices[0].collector_uid == DEVICE
    assert request.devices[1].name == "LAPTOP-1"
    assert request.users[1].upn == "a@b.c"


@pytest.mark.parametrize(
    ("data", "details"),
    [
        ({"users": [{}]}, "users[0]: give at least one of sid|upn|uid"),
        ({"devices": [{}]}, "devices[0]: give at least one of collectorUid|name|uid"),
        ({"devices": [{"collectorUid": "x"}]}, "devices[0].collectorUid: must be a UUID"),
        ({"users": [{"sid": "S-"}]}, r"users[0].sid: must be a SID matching ^S(-\d+){2,10}$|^0$"),
        ({"users": [{"upn": ""}]}, "users[0].upn: must not be empty"),
        ({"users": ["S-1-5-21"]}, "users[0]: must be an object"),
        ({"devices": [{"name": "x"}] * 10_001}, "devices: at most 10000 items"),
        ({"devices": []}, "devices: give at least one device, or at least one user"),
    ],
)
def test_v2_errors(data: dict[str, Any], details: str) -> None:
    assert fails(workflows.parse_execute_v2, {"workflowId": "#wf", **data})["details"] == details


def test_v2_takes_several_identifiers_of_one_user_or_device() -> None:
    """The document asks for at least one identifier each, not exactly one."""
    request = workflows.parse_execute_v2(
        {
            "workflowId": "#wf",
            "users": [{"sid": SID, "upn": "a@b.c", "uid": DEVICE}],
            "devices": [{"name": "x", "uid": DEVICE, "collectorUid": DEVICE}],
        }
    )
    assert request.users[0].upn == "a@b.c"
    assert request.devices[0].collector_uid == DEVICE


def test_trigger_body_and_path() -> None:
    assert workflows.parse_trigger(b"{}").parameters == {}
    assert workflows.parse_trigger({"parameters": {"a": "b"}}).parameters == {"a": "b"}
    assert fails(workflows.parse_trigger, {"parameters": {"a": ""}})["details"] == (
        "parameters.a: must not be empty"
    )
    upper = DEVICE.upper()
    assert workflows.parse_trigger_path(upper, DEVICE) == (DEVICE, DEVICE)
    assert fails(lambda _: workflows.parse_trigger_path("x", "y"), None)["details"] == (
        "workflowUuid: must be a UUID; executionUuid: must be a UUID"
    )
    assert workflows.trigger_response(DEVICE) == [{"requestUuid": DEVICE}]


def test_v2_limits_inside() -> None:
    request = workflows.parse_execute_v2(
        {"workflowId": "#wf", "users": [{"sid": SID}] * 10_000, "devices": [{"name": "x"}] * 10_000}
    )
    assert len(request.users) == len(request.devices) == 10_000


def test_list_filters_are_optional() -> None:
    filters = workflows.parse_list_filters({})
    assert filters.dependency is None
    assert filters.trigger_method is None
    assert filters.fetch_only_active_workflows is False


@pytest.mark.parametrize("dependency", ["USER", "DEVICE", "USER_AND_DEVICE", "NONE"])
@pytest.mark.parametrize("method", ["API", "MANUAL", "MANUAL_MULTIPLE", "SCHEDULER"])
def test_list_filters_values(dependency: str, method: str) -> None:
    filters = workflows.parse_list_filters(
        {"dependency": dependency, "triggerMethod": method, "fetchOnlyActiveWorkflows": "true"}
    )
    assert (filters.dependency, filters.trigger_method) == (dependency, method)
    assert filters.fetch_only_active_workflows is True


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"dependency": "BOTH"}, "dependency"),
        ({"triggerMethod": "api"}, "triggerMethod"),
        ({"fetchOnlyActiveWorkflows": "yes"}, "fetchOnlyActiveWorkflows"),
    ],
)
def test_list_filters_errors(query: dict[str, str], field: str) -> None:
    assert str(fails(workflows.parse_list_filters, query)["details"]).startswith(field + ":")


def test_details_query() -> None:
    assert workflows.parse_details_query({"nqlId": "#wf"}) == "#wf"
    assert fails(workflows.parse_details_query, {})["details"] == "nqlId: is required"


def make(**changes: Any) -> workflows.Workflow:
    base: dict[str, Any] = {
        "id": "#wf",
        "uuid": DEVICE,
        "name": "Reset",
        "last_update_time": datetime(
            2023, 12, 7, 17, 26, 36, 123, tzinfo=timezone(timedelta(hours=1))
        ),
    }
    base.update(changes)
    return workflows.Workflow(**base)


def test_workflow_shape() -> None:
    body = workflows.workflow_body(make(versions=({"versionNumber": 1},)))
    assert body == {
        "id": "#wf",
        "uuid": DEVICE,
        "name": "Reset",
        "description": "",
        "status": "ACTIVE",
        "lastUpdateTime": "2023-12-07T16:26:36Z",
        "triggerMethods": ["API"],
        "versions": [{"versionNumber": 1}],
    }


def test_workflow_filters_and_triggerability() -> None:
    wf = make(dependency="USER", trigger_methods=("MANUAL",), status="INACTIVE")
    assert not wf.api_triggerable
    assert wf.matches(workflows.parse_list_filters({}))
    assert wf.matches(workflows.parse_list_filters({"dependency": "USER"}))
    assert not wf.matches(workflows.parse_list_filters({"dependency": "DEVICE"}))
    assert not wf.matches(workflows.parse_list_filters({"triggerMethod": "API"}))
    assert not wf.matches(workflows.parse_list_filters({"fetchOnlyActiveWorkflows": "true"}))
    assert make(last_update_time=datetime(2024, 1, 1, tzinfo=UTC)).api_triggerable


def test_execute_response() -> None:
    assert workflows.execute_response(DEVICE.upper(), [DEVICE]) == {
        "requestUuid": DEVICE,
        "executionsUuids": [DEVICE],
    }
