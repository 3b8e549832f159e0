"""The SDK reads what the published documents allow: every family's error body, and the
remote-action fields the documents type as strings."""

from __future__ import annotations

from typing import Any

import pytest

from credgate.client import (
    Engine,
    NotFoundError,
    PermissionDeniedError,
    RemoteAction,
    ValidationError,
)
from credgate.client._errors import APIError, api_error
from credgate.client._models import ShapeError


def _error(status: int, body: Any, challenge: str | None = None) -> APIError:
    return api_error(
        status_code=status,
        method="POST",
        path="/api/v1/x",
        body=body,
        www_authenticate=challenge,
        retry_after=None,
        request_id="r-1",
    )


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "message"),
    [
        # Workflows: {code, details}; the details are the message.
        (
            400,
            {"code": "NOT_FOUND", "details": "workflowId: no workflow '#x'"},
            ValidationError,
            "NOT_FOUND",
            "workflowId: no workflow '#x'",
        ),
        # Remote Actions, Campaigns, Data management: {code, message}.
        (
            404,
            {"code": "NOT_FOUND", "message": "nql-id: no remote action '#x'"},
            NotFoundError,
            "NOT_FOUND",
            "nql-id: no remote action '#x'",
        ),
        # NQL ErrorResponse: an integer code.
        (
            404,
            {"message": "No query associated with the ID #x", "code": 404, "source": "queryId"},
            NotFoundError,
            "404",
            "No query associated with the ID #x",
        ),
        # Enrichment and Spark: {message}.
        (
            403,
            {"message": "the token lacks the enrichment permission"},
            PermissionDeniedError,
            None,
            "the token lacks the enrichment permission",
        ),
        # A path no route serves.
        (404, {"detail": "Not Found"}, NotFoundError, None, "Not Found"),
    ],
)
def test_error_bodies_of_every_family(
    status: int, body: Any, kind: type[APIError], code: str | None, message: str
) -> None:
    error = _error(status, body)
    assert type(error) is kind
    assert error.code == code
    assert error.message == message
    assert message in str(error)


def test_permission_denied_names_the_scope_from_the_challenge() -> None:
    error = _error(
        403,
        {"code": "INSUFFICIENT_SCOPE", "details": "needs workflows"},
        'Bearer error="insufficient_scope", scope="workflows"',
    )
    assert isinstance(error, PermissionDeniedError)
    assert error.required_scope == "workflows"
    assert error.message == "needs workflows"


def _action(**script: Any) -> dict[str, Any]:
    return {
        "id": "#ra",
        "uuid": "0b7a4c1e-9f2d-4c3b-8a6e-1d2c3b4a5f60",
        "name": "RA",
        "description": "",
        "origin": "NEXTHINK",
        "builtInContentVersion": "3.1.0",
        "purpose": ["REMEDIATION"],
        "targeting": {
            "apiEnabled": True,
            "manualEnabled": False,
            "workflowEnabled": False,
            "manualAllowMultipleDevices": False,
        },
        "scriptInfo": {
            "runAs": "LOCAL_SYSTEM",
            "timeoutSeconds": 120,
            "hasScriptWindows": True,
            "hasScriptMacOs": False,
            "inputs": [],
            "outputs": [],
            **script,
        },
    }


def test_remote_action_strings_as_documented() -> None:
    action = RemoteAction.from_wire(_action(executionServiceDelegate="DEFAULT"))
    assert action.script_info.execution_service_delegate == "DEFAULT"
    assert action.built_in_content_version == "3.1.0"


def test_remote_action_from_an_older_server() -> None:
    legacy = _action(executionServiceDelegate=False)
    legacy["builtInContentVersion"] = None
    action = RemoteAction.from_wire(legacy)
    assert action.script_info.execution_service_delegate is None
    assert action.built_in_content_version is None


def test_remote_action_without_its_parts_reads_as_all_off() -> None:
    bare = {"id": "#ra", "name": "RA", "targeting": None}
    action = RemoteAction.from_wire(bare)
    assert action.targeting.api_enabled is False
    assert action.script_info.inputs == []
    assert action.purpose == []
    assert action.uuid is None


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"targeting": {"apiEnabled": 1}}, r"^body\.targeting\.apiEnabled: missing or not bool$"),
        ({"scriptInfo": {"timeoutSeconds": True}}, r"^body\.scriptInfo\.timeoutSeconds: missing"),
        ({"purpose": ["A", 2]}, r"^body\.purpose\[1\]: missing or not str$"),
        ({"scriptInfo": []}, r"^body\.scriptInfo: expected a JSON object, got list$"),
        ({"name": None}, r"^body\.name: missing or not str$"),
    ],
)
def test_a_broken_remote_action_names_the_wire_field(broken: dict[str, Any], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        RemoteAction.from_wire({**_action(), **broken})


def test_an_engine_status_outside_the_documented_set() -> None:
    engine = {"name": "e1", "status": "ASLEEP", "port": 99, "databaseUID": None}
    with pytest.raises(ShapeError, match=r"^body\.status: 'ASLEEP' is not one of: "):
        Engine.from_wire(engine)
    read = Engine.from_wire({**engine, "status": "CONNECTED"})
    assert (read.database_uid, read.machine_id, read.port) == ("", "", 99)
