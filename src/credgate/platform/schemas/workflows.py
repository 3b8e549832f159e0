"""Workflows API: list filters, details, ``POST /api/v1|v2/workflows/execute``.

Error body: ``{code, details}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Final, Generic, Literal, Self, TypeVar

from pydantic import Field, StringConstraints, ValidationError, model_validator

from credgate.core import permissions
from credgate.platform.schemas._common import (
    Problem,
    RequestError,
    Sid,
    Uuid,
    WireModel,
    describe,
    is_uuid,
    parse_model,
    problems_from,
    uuid_text,
)

__all__ = [
    "MAX_DEVICES",
    "MAX_USERS",
    "PERMISSION",
    "Dependency",
    "DeviceRef",
    "ExecuteRequestV1",
    "ExecuteRequestV2",
    "ListFilters",
    "TriggerMethod",
    "TriggerRequest",
    "UserRef",
    "Workflow",
    "error_body",
    "execute_response",
    "parse_details_query",
    "parse_execute_v1",
    "parse_execute_v2",
    "parse_list_filters",
    "parse_trigger",
    "parse_trigger_path",
    "trigger_response",
    "workflow_body",
]

PERMISSION: Final = permissions.WORKFLOWS.id
MAX_DEVICES: Final = 10_000
MAX_USERS: Final = 10_000

Dependency = Literal["USER", "DEVICE", "USER_AND_DEVICE", "NONE"]
TriggerMethod = Literal["API", "MANUAL", "MANUAL_MULTIPLE", "SCHEDULER"]
WorkflowStatus = Literal["ACTIVE", "INACTIVE"]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
DeviceT = TypeVar("DeviceT")
UserT = TypeVar("UserT")


class _ExecuteRequest(WireModel, Generic[DeviceT, UserT]):
    """Body of a workflow execution; each version names its devices and users its own way."""

    workflow_id: str = Field(min_length=1)
    devices: list[DeviceT] = Field(default_factory=list, max_length=MAX_DEVICES)
    users: list[UserT] = Field(default_factory=list, max_length=MAX_USERS)
    params: dict[str, str] = Field(default_factory=dict)


class ExecuteRequestV1(_ExecuteRequest[Uuid, Sid]):
    """Body of ``POST /api/v1/workflows/execute``: devices by UUID, users by SID."""


class _AnyOf(WireModel):
    """A reference that names its target by at least one of several identifiers; when several
    are given, the target is the most recently active object matching them."""

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if all(value is None for _, value in self):
            names = "|".join(info.alias or name for name, info in type(self).model_fields.items())
            raise ValueError(f"give at least one of {names}")
        return self


class UserRef(_AnyOf):
    """A v2 user: any of ``sid``, ``upn`` and ``uid``."""

    sid: Sid | None = None
    upn: NonEmpty | None = None
    uid: Uuid | None = None


class DeviceRef(_AnyOf):
    """A v2 device: any of ``collectorUid``, ``name`` and ``uid``."""

    collector_uid: Uuid | None = None
    name: NonEmpty | None = None
    uid: Uuid | None = None


class ExecuteRequestV2(_ExecuteRequest[DeviceRef, UserRef]):
    """Body of ``POST /api/v2/workflows/execute``."""


class TriggerRequest(WireModel):
    """Body of ``POST /api/v1/workflows/workflows/{workflowUuid}/execution/{executionUuid}/trigger``:
    the parameters handed to the step waiting for the event."""

    parameters: dict[str, NonEmpty] = Field(default_factory=dict)


class ListFilters(WireModel):
    """Query filters of ``GET /api/v1/workflows``; every one is optional.

    The published specification marks ``dependency`` and ``triggerMethod`` as required, but real
    clients call the list with no query parameters at all.
    """

    dependency: Dependency | None = None
    trigger_method: TriggerMethod | None = None
    fetch_only_active_workflows: bool = False


_R = TypeVar("_R", ExecuteRequestV1, ExecuteRequestV2)


def error_body(code: str, details: str) -> dict[str, object]:
    """The Workflows API's documented error body."""
    return {"code": code, "details": details}


def _fail(problems: Sequence[Problem]) -> RequestError:
    return RequestError(400, error_body("INVALID_REQUEST", describe(problems)), problems)


def _needs_targets(request: _R) -> _R:
    # Either list may be omitted, but not both: a workflow needs someone to run for.
    if not request.devices and not request.users:
        problem = Problem("devices", "give at least one device, or at least one user", "missing")
        raise _fail([problem])
    return request


def parse_execute_v1(body: object) -> ExecuteRequestV1:
    """Parse the body of ``POST /api/v1/workflows/execute``."""
    return _needs_targets(parse_model(ExecuteRequestV1, body, _fail))


def parse_execute_v2(body: object) -> ExecuteRequestV2:
    """Parse the body of ``POST /api/v2/workflows/execute``."""
    return _needs_targets(parse_model(ExecuteRequestV2, body, _fail))


def parse_trigger(body: object) -> TriggerRequest:
    """Parse the body of the wait-for-event trigger."""
    return parse_model(TriggerRequest, body, _fail)


def parse_trigger_path(workflow_uuid: str, execution_uuid: str) -> tuple[str, str]:
    """The trigger's two path UUIDs, in lower-case text."""
    problems = [
        Problem(name, "must be a UUID", "pattern")
        for name, value in (("workflowUuid", workflow_uuid), ("executionUuid", execution_uuid))
        if not is_uuid(value)
    ]
    if problems:
        raise _fail(problems)
    return uuid_text(workflow_uuid), uuid_text(execution_uuid)


def trigger_response(request_uuid: uuid.UUID | str) -> list[dict[str, object]]:
    """200 body of the wait-for-event trigger: ``[{requestUuid}]``."""
    return [{"requestUuid": uuid_text(request_uuid)}]


_BOOLEANS: Final = {"true": True, "false": False}


def parse_list_filters(query: Mapping[str, str]) -> ListFilters:
    """Parse the (all optional) query parameters of ``GET /api/v1/workflows``."""
    data: dict[str, object] = {}
    for name in ("dependency", "triggerMethod"):
        if query.get(name):
            data[name] = query[name]
    active = query.get("fetchOnlyActiveWorkflows")
    if active:
        if active.lower() not in _BOOLEANS:
            problem = Problem("fetchOnlyActiveWorkflows", "must be true or false", "type")
            raise _fail([problem])
        data["fetchOnlyActiveWorkflows"] = _BOOLEANS[active.lower()]
    try:
        return ListFilters.model_validate(data)
    except ValidationError as exc:
        raise _fail(problems_from(exc)) from None


def parse_details_query(query: Mapping[str, str]) -> str:
    """The ``nqlId`` of ``GET /api/v1/workflows/details``, required and non-empty."""
    value = query.get("nqlId", "")
    if not value:
        raise _fail([Problem("nqlId", "is required", "missing")])
    return value


def execute_response(
    request_uuid: uuid.UUID | str, executions_uuids: Sequence[uuid.UUID | str]
) -> dict[str, object]:
    """200 body of ``POST /api/v1|v2/workflows/execute``."""
    return {
        "requestUuid": uuid_text(request_uuid),
        "executionsUuids": [uuid_text(e) for e in executions_uuids],
    }


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow as the list and details endpoints describe it.

    ``dependency`` is not part of the list item; it is what the ``dependency`` filter matches.
    """

    id: str
    uuid: str
    name: str
    last_update_time: datetime
    description: str = ""
    status: WorkflowStatus = "ACTIVE"
    trigger_methods: tuple[TriggerMethod, ...] = ("API",)
    versions: tuple[Mapping[str, object], ...] = ()
    dependency: Dependency = "NONE"

    @property
    def api_triggerable(self) -> bool:
        """Only workflows whose trigger methods include API may run through the API."""
        return "API" in self.trigger_methods

    def matches(self, filters: ListFilters) -> bool:
        """Whether this workflow passes the list filters."""
        if filters.dependency is not None and self.dependency != filters.dependency:
            return False
        if (
            filters.trigger_method is not None
            and filters.trigger_method not in self.trigger_methods
        ):
            return False
        return not (filters.fetch_only_active_workflows and self.status != "ACTIVE")


def workflow_body(workflow: Workflow) -> dict[str, object]:
    """One item of ``GET /api/v1/workflows`` (and of the details array)."""
    when = workflow.last_update_time.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return {
        "id": workflow.id,
        "uuid": workflow.uuid,
        "name": workflow.name,
        "description": workflow.description,
        "status": workflow.status,
        "lastUpdateTime": when.isoformat() + "Z",
        "triggerMethods": list(workflow.trigger_methods),
        "versions": [dict(v) for v in workflow.versions],
    }
