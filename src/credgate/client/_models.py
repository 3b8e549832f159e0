"""Request and response models of the platform API families, as plain dataclasses.

Attribute names are Python style; the wire is camelCase. Each request model has `to_wire()`;
each response model a `from_wire()` that pydantic validates against the field annotations below
(strict: no number is read as text, no boolean as a number), naming the field at fault when a
body breaks the documented shape (`ShapeError`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel

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


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    # Built on first use: importing the SDK (and the CLI that uses it) stays quick.
    return TypeAdapter(kind)


_EXPECTED = {
    "dataclass_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
    "list_type": "expected a JSON array",
}
_SCALARS = {"string_type": "str", "int_type": "int", "bool_type": "bool"}


def read(kind: Any, value: Any, where: str = "body") -> Any:
    """``value`` (decoded JSON) validated as ``kind``, or ShapeError naming the first field at
    fault, its place written from ``where`` with wire names (``body[0].name``)."""
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        problem = error["type"]
        if problem in _EXPECTED:
            got = type(error["input"]).__name__
            raise ShapeError(f"{place}: {_EXPECTED[problem]}, got {got}") from None
        if problem in _SCALARS:
            raise ShapeError(f"{place}: missing or not {_SCALARS[problem]}") from None
        if problem == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            raise ShapeError(f"{place}: {error['input']!r} is not one of: {expected}") from None
        raise ShapeError(f"{place}: {error['msg'].lower()}") from None


class _Response:
    """A response model: read from its camelCase wire form."""

    __slots__ = ()
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(alias_generator=to_camel)

    @classmethod
    def from_wire(cls, value: Any, where: str = "body") -> Self:
        found: Self = read(cls, value, where)
        return found


def _empty_if_none(value: Any) -> Any:
    return [] if value is None else value


def _blank_if_none(value: Any) -> Any:
    return "" if value is None else value


def _false_if_none(value: Any) -> Any:
    return False if value is None else value


def _object_if_none(value: Any) -> Any:
    return {} if value is None else value


def _documented_text(value: Any) -> Any:
    # A field the documents type as a string; an older credgate's boolean is read as text
    # ("true") or None (false).
    if isinstance(value, bool):
        return "true" if value else None
    return value


# The shapes of the fields below. Absent and null are the same on the wire; each says what
# either one reads as.
_OptStr = Annotated[StrictStr | None, Field(default=None)]
_OptInt = Annotated[StrictInt | None, Field(default=None)]
_Text = Annotated[StrictStr, BeforeValidator(_blank_if_none), Field(default="")]
_Flag = Annotated[StrictBool, BeforeValidator(_false_if_none), Field(default=False)]
_DocText = Annotated[StrictStr | None, BeforeValidator(_documented_text), Field(default=None)]
_Strs = Annotated[list[StrictStr], BeforeValidator(_empty_if_none), Field(default_factory=list)]
_Items = Annotated[list[Any], BeforeValidator(_empty_if_none), Field(default_factory=list)]


# --- NQL -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NqlDateTime(_Response):
    """`executionDateTime` of an NQL v1 result."""

    year: StrictInt
    month: StrictInt
    day: StrictInt
    hour: StrictInt
    minute: StrictInt
    second: StrictInt


@dataclass(frozen=True, slots=True)
class NqlResult(_Response):
    """200 of `POST /api/v1/nql/execute`: column `headers` and rows of values in `data`."""

    query_id: StrictStr
    executed_query: StrictStr
    rows: StrictInt
    execution_date_time: NqlDateTime
    headers: _Strs
    data: Annotated[list[list[Any]], Field(default_factory=list)]


@dataclass(frozen=True, slots=True)
class NqlResultV2(_Response):
    """200 of `POST /api/v2/nql/execute`: one object per row, ISO `execution_date_time`."""

    query_id: StrictStr
    executed_query: StrictStr
    rows: StrictInt
    execution_date_time: StrictStr
    data: Annotated[list[dict[str, Any]], Field(default_factory=list)]


@dataclass(frozen=True, slots=True)
class NqlExport(_Response):
    """200 of `GET|POST /api/v1/nql/export`."""

    export_id: StrictStr


@dataclass(frozen=True, slots=True)
class NqlExportStatus(_Response):
    """200 (or 206 when truncated) of `GET /api/v1/nql/status/{exportId}`."""

    status: StrictStr
    results_file_url: _OptStr
    error_description: _OptStr
    truncated: bool = False

    @classmethod
    def from_wire(cls, value: Any, where: str = "body", *, truncated: bool = False) -> Self:
        return _with_header(cls, value, where, truncated=truncated)


def _with_header(cls: type[T], value: Any, where: str, **header: Any) -> T:
    """A response model whose fields are the body's, and a value the headers carry."""
    if not isinstance(value, Mapping):
        raise ShapeError(f"{where}: expected a JSON object, got {type(value).__name__}")
    found: T = read(cls, {**value, **{to_camel(k): v for k, v in header.items()}}, where)
    return found


# --- Workflows -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workflow(_Response):
    """One element of `GET /api/v1/workflows` and `/api/v1/workflows/details`."""

    id: StrictStr
    uuid: StrictStr
    name: StrictStr
    description: _OptStr
    status: _OptStr
    last_update_time: _OptStr
    trigger_methods: _Strs
    versions: _Items


@dataclass(frozen=True, slots=True)
class WorkflowExecution(_Response):
    """200 of `POST /api/v1|v2/workflows/execute`."""

    request_uuid: StrictStr
    executions_uuids: _Strs


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
class RemoteActionTargeting(_Response):
    api_enabled: _Flag
    manual_enabled: _Flag
    workflow_enabled: _Flag
    manual_allow_multiple_devices: _Flag


@dataclass(frozen=True, slots=True)
class RemoteActionScriptInfo(_Response):
    execution_service_delegate: _DocText
    """A string, as documented (an older credgate sent a boolean: read as "true" or None)."""
    run_as: _OptStr
    timeout_seconds: _OptInt
    has_script_windows: _Flag
    has_script_mac_os: _Flag
    inputs: _Items
    outputs: _Items


# An absent or null part reads as one with every field absent.
_Absent = Field(default=None, validate_default=True)


@dataclass(frozen=True, slots=True)
class RemoteAction(_Response):
    """One element of `GET /api/v1/act/remote-action` (and its `/details`)."""

    id: StrictStr
    uuid: _OptStr
    name: StrictStr
    description: _OptStr
    origin: _OptStr
    built_in_content_version: _DocText
    purpose: _Strs
    targeting: Annotated[RemoteActionTargeting, BeforeValidator(_object_if_none), _Absent]
    script_info: Annotated[RemoteActionScriptInfo, BeforeValidator(_object_if_none), _Absent]


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
class RemoteActionExecution(_Response):
    """200 of `POST /api/v1/act/execute`."""

    request_id: StrictStr
    expires_in_minutes: _OptInt


# --- Enrichment ------------------------------------------------------------------------------


def _enrichment_value(raw: Any) -> Any:
    return raw if isinstance(raw, str | int | float | bool) else "" if raw is None else str(raw)


@dataclass(frozen=True, slots=True)
class EnrichmentField(_Response):
    """A `{name, value}` pair: an identification (`device/device/name`) or a field to set."""

    name: StrictStr
    value: Annotated[
        str | int | float | bool,
        BeforeValidator(_enrichment_value),
        Field(default=None, validate_default=True),
    ]
    """A string, or a number or boolean for fields that hold one ("" clears a field)."""

    def to_wire(self) -> dict[str, str | int | float | bool]:
        return {"name": self.name, "value": self.value}


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
class EnrichmentErrorDetail(_Response):
    message: _OptStr
    code: _OptStr


@dataclass(frozen=True, slots=True)
class EnrichmentError(_Response):
    """One failed enrichment of a 207 partial success."""

    identification: Annotated[
        list[EnrichmentField], BeforeValidator(_empty_if_none), Field(default_factory=list)
    ]
    errors: Annotated[
        list[EnrichmentErrorDetail], BeforeValidator(_empty_if_none), Field(default_factory=list)
    ]


@dataclass(frozen=True, slots=True)
class EnrichmentResult(_Response):
    """200 (`status="success"`) or 207 (`status="partial_success"` with `errors`)."""

    status: StrictStr
    errors: Annotated[list[EnrichmentError], BeforeValidator(_empty_if_none)] = field(
        default_factory=list
    )

    @property
    def partial(self) -> bool:
        return self.status == "partial_success"


# --- Campaigns -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignRequest(_Response):
    """One user of a campaign trigger: a `request_id`, or a `message` saying why not."""

    user_sid: StrictStr
    request_id: _OptStr
    message: _OptStr


@dataclass(frozen=True, slots=True)
class CampaignTriggerResult(_Response):
    """200 of `POST /api/v1/euf/campaign/trigger` (duplicate SIDs are dropped)."""

    requests: list[CampaignRequest]


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
class DeviceDeletion(_Response):
    """One device of a deletion answer: `status` is SCHEDULED, INVALID or FAILED."""

    uid: _OptStr
    name: _OptStr
    status: StrictStr


@dataclass(frozen=True, slots=True)
class DeviceDeletionResult(_Response):
    """202 of `POST /api/v1/data-management/device/deletions`, with the echoed x-request-id."""

    scheduled_count: StrictInt
    status: StrictStr
    devices: Annotated[
        list[DeviceDeletion], BeforeValidator(_empty_if_none), Field(default_factory=list)
    ]
    request_id: str | None = None

    @classmethod
    def from_wire(cls, value: Any, where: str = "body", *, request_id: str | None = None) -> Self:
        return _with_header(cls, value, where, request_id=request_id)


# --- Classic APIs: Engines, Audit trail, NXQL ------------------------------------------------

EngineStatus = Literal["CONNECTED", "DISCONNECTED", "CONNECTING"]
NxqlFormat = Literal["csv", "json", "xml", "html"]


@dataclass(frozen=True, slots=True)
class Engine(_Response):
    """One item of `GET /api/configuration/v1/engines`."""

    name: StrictStr
    database_uid: Annotated[_Text, Field(alias="databaseUID")]
    machine_id: Annotated[_Text, Field(alias="machineID")]
    description: _Text
    status: EngineStatus
    address: _Text
    port: StrictInt
    timezone: _Text
    version: _Text


@dataclass(frozen=True, slots=True)
class AuditLogEntry(_Response):
    """One audit-trail entry: who changed which object, and the names of the fields changed
    (never their values). `time` is ISO 8601 UTC, as sent."""

    id: StrictInt
    time: StrictStr
    user: StrictStr
    source: _Text
    action: StrictStr
    object_type: StrictStr
    object_id: StrictStr
    fields: _Strs


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
            rows = read(list[dict[str, Any]], parsed)
        return cls(format=fmt, text=text, rows=rows, truncated=truncated)
