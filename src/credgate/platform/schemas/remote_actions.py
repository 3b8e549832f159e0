"""Remote Actions API: ``POST /api/v1/act/execute`` and the remote-action shapes.

Error body: ``{code, message}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from pydantic import Field

from credgate.core import permissions
from credgate.platform.schemas._common import (
    RequestError,
    WireModel,
    code_message_body,
    invalid_request,
    parse_model,
    uuid_text,
)

__all__ = [
    "DEFAULT_EXPIRES_IN_MINUTES",
    "MAX_DEVICES",
    "MAX_EXPIRES_IN_MINUTES",
    "MAX_REASON_LENGTH",
    "MIN_EXPIRES_IN_MINUTES",
    "PERMISSION",
    "ExecuteRequest",
    "RemoteAction",
    "ScriptInfo",
    "Targeting",
    "TriggerInfo",
    "error_body",
    "execute_response",
    "parse_details_query",
    "parse_execute",
    "remote_action_body",
    "wire_text",
]

PERMISSION: Final = permissions.REMOTE_ACTIONS.id
MAX_DEVICES: Final = 10_000
MIN_EXPIRES_IN_MINUTES: Final = 60
MAX_EXPIRES_IN_MINUTES: Final = 10_080
DEFAULT_EXPIRES_IN_MINUTES: Final = 60
MAX_REASON_LENGTH: Final = 500


class TriggerInfo(WireModel):
    """Who triggered the action from outside, and why."""

    external_source: str | None = None
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)
    external_reference: str | None = None


class ExecuteRequest(WireModel):
    """Body of ``POST /api/v1/act/execute``."""

    remote_action_id: str = Field(min_length=1)
    # Collector IDs, which the document types as plain strings.
    devices: list[str] = Field(min_length=1, max_length=MAX_DEVICES)
    params: dict[str, str] = Field(default_factory=dict)
    expires_in_minutes: int = Field(
        default=DEFAULT_EXPIRES_IN_MINUTES, ge=MIN_EXPIRES_IN_MINUTES, le=MAX_EXPIRES_IN_MINUTES
    )
    trigger_info: TriggerInfo | None = None


#: The Remote Actions API's documented error body.
error_body = code_message_body
_fail = invalid_request


def parse_execute(body: object) -> ExecuteRequest:
    """Parse the body of ``POST /api/v1/act/execute``."""
    return parse_model(ExecuteRequest, body, _fail)


def parse_details_query(query: Mapping[str, str]) -> str:
    """The ``nql-id`` of ``GET /api/v1/act/remote-action/details``, required and non-empty.

    The operation documents no 400: without an ``nql-id`` no remote action is associated with
    the request, which is its documented 404.
    """
    value = query.get("nql-id", "")
    if not value:
        raise RequestError(404, error_body("NOT_FOUND", "nql-id: is required"))
    return value


def execute_response(request_id: uuid.UUID | str, expires_in_minutes: int) -> dict[str, object]:
    """200 body of ``POST /api/v1/act/execute``."""
    return {"requestId": uuid_text(request_id), "expiresInMinutes": expires_in_minutes}


Purpose = Literal["DATA_COLLECTION", "REMEDIATION"]


@dataclass(frozen=True, slots=True)
class Targeting:
    """How a remote action may be triggered; only ``api_enabled`` ones run through the API."""

    api_enabled: bool = False
    manual_enabled: bool = False
    workflow_enabled: bool = False
    manual_allow_multiple_devices: bool = False


@dataclass(frozen=True, slots=True)
class ScriptInfo:
    """The scripts behind a remote action and their declared inputs and outputs."""

    execution_service_delegate: str = ""
    run_as: str = "LOCAL_SYSTEM"
    timeout_seconds: int = 120
    has_script_windows: bool = False
    has_script_mac_os: bool = False
    inputs: tuple[Mapping[str, object], ...] = ()
    outputs: tuple[Mapping[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class RemoteAction:
    """A remote action as the list and details endpoints describe it."""

    id: str
    uuid: str
    name: str
    description: str = ""
    origin: str = "CUSTOM"
    built_in_content_version: str = ""
    purpose: tuple[Purpose, ...] = ()
    targeting: Targeting = field(default_factory=Targeting)
    script_info: ScriptInfo = field(default_factory=ScriptInfo)

    @property
    def api_triggerable(self) -> bool:
        """Whether ``POST /api/v1/act/execute`` may trigger this action."""
        return self.targeting.api_enabled


def wire_text(value: object) -> str:
    """A value the document types as a string, from a definition that may hold an older
    boolean or null: null and false are empty, true is ``"true"``."""
    if value is None or value is False:
        return ""
    if value is True:
        return "true"
    return str(value)


def _with_defaults(item: Mapping[str, object], **defaults: object) -> dict[str, object]:
    """A script input or output with every field the document requires: its name (or id) for
    both, empty text, Windows only, and ``defaults``, for those the definition does not set."""
    name = wire_text(item.get("name", item.get("id", "")))
    base: dict[str, object] = {
        "id": name,
        "name": name,
        "description": "",
        "usedByWindows": True,
        "usedByMacOs": False,
    }
    return {**base, **defaults, **item}


def remote_action_body(action: RemoteAction) -> dict[str, object]:
    """One item of ``GET /api/v1/act/remote-action`` (and the details body)."""
    t, s = action.targeting, action.script_info
    return {
        "id": action.id,
        "uuid": action.uuid,
        "name": action.name,
        "description": action.description,
        "origin": action.origin,
        "builtInContentVersion": action.built_in_content_version,
        "purpose": list(action.purpose),
        "targeting": {
            "apiEnabled": t.api_enabled,
            "manualEnabled": t.manual_enabled,
            "workflowEnabled": t.workflow_enabled,
            "manualAllowMultipleDevices": t.manual_allow_multiple_devices,
        },
        "scriptInfo": {
            "executionServiceDelegate": s.execution_service_delegate,
            "runAs": s.run_as,
            "timeoutSeconds": s.timeout_seconds,
            "hasScriptWindows": s.has_script_windows,
            "hasScriptMacOs": s.has_script_mac_os,
            "inputs": [_with_defaults(i, options=[], allowCustomValue=True) for i in s.inputs],
            "outputs": [_with_defaults(o, type="string") for o in s.outputs],
        },
    }
