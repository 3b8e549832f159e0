"""Request and response models of the platform API families, as plain dataclasses.

Attribute names are Python style; the wire is camelCase. Each request model has `to_wire()` and
each response model a `from_wire()` that converts explicitly, field by field, and names the field
at fault when a body breaks the documented shape (`ShapeError`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

__all__ = [
    "AuditLogEntry",
    "AuditLogPage",
    "CampaignRequest",
    "CampaignTriggerResult",
    "DeletionDevice",
    "DeviceDeletion",
    "DeviceDeletionResult",
    "Engine",
    "EngineStatus",
    "Enrichment",
    "EnrichmentError",
    "EnrichmentErrorDetail",
    "EnrichmentField",
    "EnrichmentResult",
    "NqlDateTime",
    "NqlExport",
    "NqlExportStatus",
    "NqlResult",
    "NqlResultV2",
    "NxqlFormat",
    "NxqlResult",
    "RemoteAction",
    "RemoteActionExecution",
    "RemoteActionScriptInfo",
    "RemoteActionTargeting",
    "ShapeError",
    "SparkFile",
    "SparkPart",
    "SparkText",
    "TriggerInfo",
    "Workflow",
    "WorkflowDevice",
    "WorkflowExecution",
    "WorkflowUser",
]

T = TypeVar("T")


class ShapeError(ValueError):
    """A response body does not have the documented shape; the message names the field."""


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value


def _req(obj: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], where: str) -> T:
    value = obj.get(key)
    if value is None or not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ShapeError(f"{where}.{key}: missing or not {_kind_name(kind)}")
    return value  # type: ignore[return-value]


def _opt(
    obj: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], where: str
) -> T | None:
    if obj.get(key) is None:
        return None
    return _req(obj, key, kind, where)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _str_list(obj: Mapping[str, Any], key: str, where: str) -> list[str]:
    values = _list(obj.get(key, []) or [], f"{where}.{key}")
    if not all(isinstance(v, str) for v in values):
        raise ShapeError(f"{where}.{key}: expected an array of strings")
    return values


def _documented_text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """A field the documents type as a string; an older credgate's boolean is read as text
    ("true") or None (false)."""
    value = obj.get(key)
    if isinstance(value, bool):
        return "true" if value else None
    return _opt(obj, key, str, where)


# --- NQL -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NqlDateTime:
    """`executionDateTime` of an NQL v1 result."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int

    @classmethod
    def from_wire(cls, value: Any, where: str = "executionDateTime") -> NqlDateTime:
        obj = _obj(value, where)
        return cls(
            year=_req(obj, "year", int, where),
            month=_req(obj, "month", int, where),
            day=_req(obj, "day", int, where),
            hour=_req(obj, "hour", int, where),
            minute=_req(obj, "minute", int, where),
            second=_req(obj, "second", int, where),
        )


@dataclass(frozen=True, slots=True)
class NqlResult:
    """200 of `POST /api/v1/nql/execute`: column `headers` and rows of values in `data`."""

    query_id: str
    executed_query: str
    rows: int
    execution_date_time: NqlDateTime
    headers: list[str]
    data: list[list[Any]]

    @classmethod
    def from_wire(cls, value: Any) -> NqlResult:
        obj = _obj(value, "body")
        data = _list(obj.get("data", []), "body.data")
        return cls(
            query_id=_req(obj, "queryId", str, "body"),
            executed_query=_req(obj, "executedQuery", str, "body"),
            rows=_req(obj, "rows", int, "body"),
            execution_date_time=NqlDateTime.from_wire(
                obj.get("executionDateTime"), "body.executionDateTime"
            ),
            headers=_str_list(obj, "headers", "body"),
            data=[_list(row, f"body.data[{i}]") for i, row in enumerate(data)],
        )


@dataclass(frozen=True, slots=True)
class NqlResultV2:
    """200 of `POST /api/v2/nql/execute`: one object per row, ISO `execution_date_time`."""

    query_id: str
    executed_query: str
    rows: int
    execution_date_time: str
    data: list[dict[str, Any]]

    @classmethod
    def from_wire(cls, value: Any) -> NqlResultV2:
        obj = _obj(value, "body")
        data = _list(obj.get("data", []), "body.data")
        return cls(
            query_id=_req(obj, "queryId", str, "body"),
            executed_query=_req(obj, "executedQuery", str, "body"),
            rows=_req(obj, "rows", int, "body"),
            execution_date_time=_req(obj, "executionDateTime", str, "body"),
            data=[dict(_obj(row, f"body.data[{i}]")) for i, row in enumerate(data)],
        )


@dataclass(frozen=True, slots=True)
class NqlExport:
    """200 of `GET|POST /api/v1/nql/export`."""

    export_id: str

    @classmethod
    def from_wire(cls, value: Any) -> NqlExport:
        return cls(export_id=_req(_obj(value, "body"), "exportId", str, "body"))


@dataclass(frozen=True, slots=True)
class NqlExportStatus:
    """200 (or 206 when truncated) of `GET /api/v1/nql/status/{exportId}`."""

    status: str
    results_file_url: str | None
    error_description: str | None
    truncated: bool = False

    @classmethod
    def from_wire(cls, value: Any, *, truncated: bool = False) -> NqlExportStatus:
        obj = _obj(value, "body")
        return cls(
            status=_req(obj, "status", str, "body"),
            results_file_url=_opt(obj, "resultsFileUrl", str, "body"),
            error_description=_opt(obj, "errorDescription", str, "body"),
            truncated=truncated,
        )


# --- Workflows -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workflow:
    """One element of `GET /api/v1/workflows` and `/api/v1/workflows/details`."""

    id: str
    uuid: str
    name: str
    description: str | None
    status: str | None
    last_update_time: str | None
    trigger_methods: list[str]
    versions: list[Any]

    @classmethod
    def from_wire(cls, value: Any, where: str = "body") -> Workflow:
        obj = _obj(value, where)
        return cls(
            id=_req(obj, "id", str, where),
            uuid=_req(obj, "uuid", str, where),
            name=_req(obj, "name", str, where),
            description=_opt(obj, "description", str, where),
            status=_opt(obj, "status", str, where),
            last_update_time=_opt(obj, "lastUpdateTime", str, where),
            trigger_methods=_str_list(obj, "triggerMethods", where),
            versions=_list(obj.get("versions", []) or [], f"{where}.versions"),
        )


@dataclass(frozen=True, slots=True)
class WorkflowExecution:
    """200 of `POST /api/v1|v2/workflows/execute`."""

    request_uuid: str
    executions_uuids: list[str]

    @classmethod
    def from_wire(cls, value: Any) -> WorkflowExecution:
        obj = _obj(value, "body")
        return cls(
            request_uuid=_req(obj, "requestUuid", str, "body"),
            executions_uuids=_str_list(obj, "executionsUuids", "body"),
        )


def _at_least_one(kind: str, values: Mapping[str, str | None]) -> dict[str, str]:
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        raise ValueError(f"{kind} needs at least one of {', '.join(values)}")
    return given


@dataclass(frozen=True, slots=True)
class WorkflowUser:
    """A user for workflows v2, identified by at least one of `sid`, `upn`, `uid` (with
    several, the most recently active user matching them)."""

    sid: str | None = None
    upn: str | None = None
    uid: str | None = None

    def __post_init__(self) -> None:
        _at_least_one("WorkflowUser", {"sid": self.sid, "upn": self.upn, "uid": self.uid})

    def to_wire(self) -> dict[str, str]:
        return _at_least_one("WorkflowUser", {"sid": self.sid, "upn": self.upn, "uid": self.uid})


@dataclass(frozen=True, slots=True)
class WorkflowDevice:
    """A device for workflows v2, identified by at least one of `collector_uid`, `name`, `uid`
    (with several, the most recently active device matching them)."""

    collector_uid: str | None = None
    name: str | None = None
    uid: str | None = None

    def _wire(self) -> dict[str, str | None]:
        return {"collectorUid": self.collector_uid, "name": self.name, "uid": self.uid}

    def __post_init__(self) -> None:
        _at_least_one("WorkflowDevice", self._wire())

    def to_wire(self) -> dict[str, str]:
        return _at_least_one("WorkflowDevice", self._wire())


# --- Remote Actions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoteActionTargeting:
    api_enabled: bool
    manual_enabled: bool
    workflow_enabled: bool
    manual_allow_multiple_devices: bool

    @classmethod
    def from_wire(cls, value: Any, where: str) -> RemoteActionTargeting:
        obj = _obj(value or {}, where)
        return cls(
            api_enabled=bool(_opt(obj, "apiEnabled", bool, where)),
            manual_enabled=bool(_opt(obj, "manualEnabled", bool, where)),
            workflow_enabled=bool(_opt(obj, "workflowEnabled", bool, where)),
            manual_allow_multiple_devices=bool(
                _opt(obj, "manualAllowMultipleDevices", bool, where)
            ),
        )


@dataclass(frozen=True, slots=True)
class RemoteActionScriptInfo:
    execution_service_delegate: str | None
    """A string, as documented (an older credgate sent a boolean: read as "true" or None)."""
    run_as: str | None
    timeout_seconds: int | None
    has_script_windows: bool
    has_script_mac_os: bool
    inputs: list[Any]
    outputs: list[Any]

    @classmethod
    def from_wire(cls, value: Any, where: str) -> RemoteActionScriptInfo:
        obj = _obj(value or {}, where)
        return cls(
            execution_service_delegate=_documented_text(obj, "executionServiceDelegate", where),
            run_as=_opt(obj, "runAs", str, where),
            timeout_seconds=_opt(obj, "timeoutSeconds", int, where),
            has_script_windows=bool(_opt(obj, "hasScriptWindows", bool, where)),
            has_script_mac_os=bool(_opt(obj, "hasScriptMacOs", bool, where)),
            inputs=_list(obj.get("inputs", []) or [], f"{where}.inputs"),
            outputs=_list(obj.get("outputs", []) or [], f"{where}.outputs"),
        )


@dataclass(frozen=True, slots=True)
class RemoteAction:
    """One element of `GET /api/v1/act/remote-action` (and its `/details`)."""

    id: str
    uuid: str | None
    name: str
    description: str | None
    origin: str | None
    built_in_content_version: str | None
    purpose: list[str]
    targeting: RemoteActionTargeting
    script_info: RemoteActionScriptInfo

    @classmethod
    def from_wire(cls, value: Any, where: str = "body") -> RemoteAction:
        obj = _obj(value, where)
        return cls(
            id=_req(obj, "id", str, where),
            uuid=_opt(obj, "uuid", str, where),
            name=_req(obj, "name", str, where),
            description=_opt(obj, "description", str, where),
            origin=_opt(obj, "origin", str, where),
            built_in_content_version=_documented_text(obj, "builtInContentVersion", where),
            purpose=_str_list(obj, "purpose", where),
            targeting=RemoteActionTargeting.from_wire(obj.get("targeting"), f"{where}.targeting"),
            script_info=RemoteActionScriptInfo.from_wire(
                obj.get("scriptInfo"), f"{where}.scriptInfo"
            ),
        )


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    """`triggerInfo` of a remote action execution (`reason` is at most 500 characters)."""

    external_source: str | None = None
    reason: str | None = None
    external_reference: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {
            "externalSource": self.external_source,
            "reason": self.reason,
            "externalReference": self.external_reference,
        }
        return {k: v for k, v in wire.items() if v is not None}


@dataclass(frozen=True, slots=True)
class RemoteActionExecution:
    """200 of `POST /api/v1/act/execute`."""

    request_id: str
    expires_in_minutes: int | None

    @classmethod
    def from_wire(cls, value: Any) -> RemoteActionExecution:
        obj = _obj(value, "body")
        return cls(
            request_id=_req(obj, "requestId", str, "body"),
            expires_in_minutes=_opt(obj, "expiresInMinutes", int, "body"),
        )


# --- Enrichment ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnrichmentField:
    """A `{name, value}` pair: an identification (`device/device/name`) or a field to set."""

    name: str
    value: str | int | float | bool
    """A string, or a number or boolean for fields that hold one ("" clears a field)."""

    def to_wire(self) -> dict[str, str | int | float | bool]:
        return {"name": self.name, "value": self.value}

    @classmethod
    def from_wire(cls, value: Any, where: str) -> EnrichmentField:
        obj = _obj(value, where)
        raw = obj.get("value")
        kept = raw if isinstance(raw, (str, int, float, bool)) else "" if raw is None else str(raw)
        return cls(name=_req(obj, "name", str, where), value=kept)


@dataclass(frozen=True, slots=True)
class Enrichment:
    """One enrichment: exactly one identification and the fields to set (empty value clears)."""

    identification: EnrichmentField
    fields: Sequence[EnrichmentField]

    def to_wire(self) -> dict[str, Any]:
        return {
            "identification": [self.identification.to_wire()],
            "fields": [f.to_wire() for f in self.fields],
        }


@dataclass(frozen=True, slots=True)
class EnrichmentErrorDetail:
    message: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class EnrichmentError:
    """One failed enrichment of a 207 partial success."""

    identification: list[EnrichmentField]
    errors: list[EnrichmentErrorDetail]

    @classmethod
    def from_wire(cls, value: Any, where: str) -> EnrichmentError:
        obj = _obj(value, where)
        ident = _list(obj.get("identification", []) or [], f"{where}.identification")
        errors = _list(obj.get("errors", []) or [], f"{where}.errors")
        details = []
        for i, raw in enumerate(errors):
            err = _obj(raw, f"{where}.errors[{i}]")
            details.append(
                EnrichmentErrorDetail(
                    message=_opt(err, "message", str, f"{where}.errors[{i}]"),
                    code=_opt(err, "code", str, f"{where}.errors[{i}]"),
                )
            )
        return cls(
            identification=[
                EnrichmentField.from_wire(x, f"{where}.identification[{i}]")
                for i, x in enumerate(ident)
            ],
            errors=details,
        )


@dataclass(frozen=True, slots=True)
class EnrichmentResult:
    """200 (`status="success"`) or 207 (`status="partial_success"` with `errors`)."""

    status: str
    errors: list[EnrichmentError] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.status == "partial_success"

    @classmethod
    def from_wire(cls, value: Any) -> EnrichmentResult:
        obj = _obj(value, "body")
        errors = _list(obj.get("errors", []) or [], "body.errors")
        return cls(
            status=_req(obj, "status", str, "body"),
            errors=[
                EnrichmentError.from_wire(e, f"body.errors[{i}]") for i, e in enumerate(errors)
            ],
        )


# --- Campaigns -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignRequest:
    """One user of a campaign trigger: a `request_id`, or a `message` saying why not."""

    user_sid: str
    request_id: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class CampaignTriggerResult:
    """200 of `POST /api/v1/euf/campaign/trigger` (duplicate SIDs are dropped)."""

    requests: list[CampaignRequest]

    @classmethod
    def from_wire(cls, value: Any) -> CampaignTriggerResult:
        obj = _obj(value, "body")
        requests = []
        for i, raw in enumerate(_list(obj.get("requests"), "body.requests")):
            where = f"body.requests[{i}]"
            item = _obj(raw, where)
            requests.append(
                CampaignRequest(
                    user_sid=_req(item, "userSid", str, where),
                    request_id=_opt(item, "requestId", str, where),
                    message=_opt(item, "message", str, where),
                )
            )
        return cls(requests=requests)


# --- Spark -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SparkText:
    """A `{"type": "TEXT", "text": ...}` message part."""

    text: str

    def to_wire(self) -> dict[str, str]:
        return {"type": "TEXT", "text": self.text}


@dataclass(frozen=True, slots=True)
class SparkFile:
    """A `{"type": "FILE", "fileContent": ..., "mimeType": ...}` message part."""

    file_content: str
    mime_type: str

    def to_wire(self) -> dict[str, str]:
        return {"type": "FILE", "fileContent": self.file_content, "mimeType": self.mime_type}


SparkPart = SparkText | SparkFile


# --- Data management -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeletionDevice:
    """A device to delete: `{uid, name}`."""

    uid: str
    name: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {"uid": self.uid}
        if self.name is not None:
            wire["name"] = self.name
        return wire


@dataclass(frozen=True, slots=True)
class DeviceDeletion:
    """One device of a deletion answer: `status` is SCHEDULED, INVALID or FAILED."""

    uid: str | None
    name: str | None
    status: str


@dataclass(frozen=True, slots=True)
class DeviceDeletionResult:
    """202 of `POST /api/v1/data-management/device/deletions`, with the echoed x-request-id."""

    scheduled_count: int
    status: str
    devices: list[DeviceDeletion]
    request_id: str | None = None

    @classmethod
    def from_wire(cls, value: Any, *, request_id: str | None = None) -> DeviceDeletionResult:
        obj = _obj(value, "body")
        devices = []
        for i, raw in enumerate(_list(obj.get("devices", []) or [], "body.devices")):
            where = f"body.devices[{i}]"
            item = _obj(raw, where)
            devices.append(
                DeviceDeletion(
                    uid=_opt(item, "uid", str, where),
                    name=_opt(item, "name", str, where),
                    status=_req(item, "status", str, where),
                )
            )
        return cls(
            scheduled_count=_req(obj, "scheduledCount", int, "body"),
            status=_req(obj, "status", str, "body"),
            devices=devices,
            request_id=request_id,
        )


# --- Classic APIs: Engines, Audit trail, NXQL ------------------------------------------------

EngineStatus = Literal["CONNECTED", "DISCONNECTED", "CONNECTING"]
NxqlFormat = Literal["csv", "json", "xml", "html"]
_ENGINE_STATUSES: tuple[EngineStatus, ...] = ("CONNECTED", "DISCONNECTED", "CONNECTING")


@dataclass(frozen=True, slots=True)
class Engine:
    """One item of `GET /api/configuration/v1/engines`."""

    name: str
    database_uid: str
    machine_id: str
    description: str
    status: EngineStatus
    address: str
    port: int
    timezone: str
    version: str

    @classmethod
    def from_wire(cls, value: Any, where: str = "body") -> Engine:
        obj = _obj(value, where)
        status = _req(obj, "status", str, where)
        if status not in _ENGINE_STATUSES:
            raise ShapeError(
                f"{where}.status: {status!r} is not one of: {', '.join(_ENGINE_STATUSES)}"
            )
        return cls(
            name=_req(obj, "name", str, where),
            database_uid=_opt(obj, "databaseUID", str, where) or "",
            machine_id=_opt(obj, "machineID", str, where) or "",
            description=_opt(obj, "description", str, where) or "",
            status=status,
            address=_opt(obj, "address", str, where) or "",
            port=_req(obj, "port", int, where),
            timezone=_opt(obj, "timezone", str, where) or "",
            version=_opt(obj, "version", str, where) or "",
        )


@dataclass(frozen=True, slots=True)
class AuditLogEntry:
    """One audit-trail entry: who changed which object, and the names of the fields changed
    (never their values). `time` is ISO 8601 UTC, as sent."""

    id: int
    time: str
    user: str
    source: str
    action: str
    object_type: str
    object_id: str
    fields: list[str]

    @classmethod
    def from_wire(cls, value: Any, where: str = "body") -> AuditLogEntry:
        obj = _obj(value, where)
        return cls(
            id=_req(obj, "id", int, where),
            time=_req(obj, "time", str, where),
            user=_req(obj, "user", str, where),
            source=_opt(obj, "source", str, where) or "",
            action=_req(obj, "action", str, where),
            object_type=_req(obj, "objectType", str, where),
            object_id=_req(obj, "objectId", str, where),
            fields=_str_list(obj, "fields", where),
        )


@dataclass(frozen=True, slots=True)
class AuditLogPage:
    """One page of an audit-trail API: the entries (oldest first) and `total`, the number of
    entries matching the filters (the `X-Total-Count` header; None when the server omits it)."""

    items: list[AuditLogEntry]
    total: int | None
    offset: int
    limit: int | None

    @property
    def has_more(self) -> bool:
        """True when `total` says entries follow this page."""
        return self.total is not None and self.offset + len(self.items) < self.total


@dataclass(frozen=True, slots=True)
class NxqlResult:
    """200 of `GET|POST /2/query`: the body as `text`, and for format json the rows parsed
    (`rows`, one object per row keyed by field name; None for csv, xml and html).
    `truncated` is the `X-Truncated` header (rows beyond the server's maximum were cut)."""

    format: NxqlFormat
    text: str
    rows: list[dict[str, Any]] | None
    truncated: bool = False

    @classmethod
    def from_wire(cls, fmt: NxqlFormat, text: str, *, truncated: bool = False) -> NxqlResult:
        rows: list[dict[str, Any]] | None = None
        if fmt == "json":
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise ShapeError("body: not JSON") from exc
            items = _list(parsed, "body")
            rows = [dict(_obj(row, f"body[{i}]")) for i, row in enumerate(items)]
        return cls(format=fmt, text=text, rows=rows, truncated=truncated)
