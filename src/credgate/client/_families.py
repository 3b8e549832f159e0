"""The API families as data: each call is an `Operation` (the request to send and the parser of
its success response), built here once and run by both `Client` and `AsyncClient`.

Paths, parameter names and bodies follow API-CONTRACTS.md; Python-style arguments are turned into
the camelCase wire names explicitly.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx

from ._models import (
    AuditLogEntry,
    AuditLogPage,
    CampaignTriggerResult,
    DeletionDevice,
    DeviceDeletionResult,
    Engine,
    Enrichment,
    EnrichmentResult,
    NqlExport,
    NqlExportStatus,
    NqlResult,
    NqlResultV2,
    NxqlFormat,
    NxqlResult,
    RemoteAction,
    RemoteActionExecution,
    ShapeError,
    SparkPart,
    TriggerInfo,
    Workflow,
    WorkflowDevice,
    WorkflowExecution,
    WorkflowUser,
    read,
)

__all__ = [
    "AuditScope",
    "Compression",
    "Dependency",
    "NxqlPlatform",
    "Operation",
    "TriggerMethod",
]

T = TypeVar("T")

Compression = Literal["ZSTD", "GZIP", "NONE"]
Dependency = Literal["USER", "DEVICE", "USER_AND_DEVICE", "NONE"]
TriggerMethod = Literal["API", "MANUAL", "MANUAL_MULTIPLE", "SCHEDULER"]
AuditScope = Literal["portal", "engines", "engine"]
NxqlPlatform = Literal["windows", "mac_os", "mobile"]

_QUERY_ID = re.compile(r"^#[a-z0-9_]{2,255}$")


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """One API call: what to send, and how to read a success (status < 400) response."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    data: Mapping[str, str | list[str]] | None = None  # a form body (repeatable fields)

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.params is not None:
            kwargs["params"] = dict(self.params)
        if self.json is not None:
            kwargs["json"] = self.json
        if self.data is not None:
            kwargs["data"] = dict(self.data)
        if self.headers is not None:
            kwargs["headers"] = dict(self.headers)
        return kwargs


def body(response: httpx.Response) -> Any:
    """The JSON body of a success response, or ShapeError naming the problem."""
    try:
        return response.json()
    except ValueError as exc:
        raise ShapeError(f"body: not JSON ({response.headers.get('content-type')})") from exc


def _query_id(query_id: str) -> str:
    if not isinstance(query_id, str) or not _QUERY_ID.match(query_id):
        raise ValueError(
            f"query_id {query_id!r} must match ^#[a-z0-9_]{{2,255}}$, for example '#my_query'"
        )
    return query_id


def _parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    # Saved queries use `$name`; callers send `name`. A leading `$` is tolerated and dropped.
    return {k.removeprefix("$"): v for k, v in (parameters or {}).items()}


def _list_of(kind: type[T]) -> Callable[[httpx.Response], list[T]]:
    def parse(response: httpx.Response) -> list[T]:
        items: list[T] = read(list[kind], body(response))  # type: ignore[valid-type]
        return items

    return parse


# --- NQL -------------------------------------------------------------------------------------


def _nql_execute(
    version: int, query_id: str, parameters: Mapping[str, Any] | None, utc_times: bool, accept: str
) -> tuple[str, dict[str, Any], dict[str, str]]:
    headers = {"Accept": accept}
    if utc_times:
        headers["x-utc-times"] = "true"
    payload = {"queryId": _query_id(query_id), "parameters": _parameters(parameters)}
    return f"/api/v{version}/nql/execute", payload, headers


def nql_execute(
    query_id: str, parameters: Mapping[str, Any] | None = None, *, utc_times: bool = False
) -> Operation[NqlResult]:
    """`POST /api/v1/nql/execute` with `Accept: application/json`."""
    path, payload, headers = _nql_execute(1, query_id, parameters, utc_times, "application/json")
    return Operation(
        "POST", path, lambda r: NqlResult.from_wire(body(r)), json=payload, headers=headers
    )


def nql_execute_v2(
    query_id: str, parameters: Mapping[str, Any] | None = None, *, utc_times: bool = False
) -> Operation[NqlResultV2]:
    """`POST /api/v2/nql/execute`: rows as objects."""
    path, payload, headers = _nql_execute(2, query_id, parameters, utc_times, "application/json")
    return Operation(
        "POST", path, lambda r: NqlResultV2.from_wire(body(r)), json=payload, headers=headers
    )


def nql_execute_csv(
    query_id: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    version: Literal[1, 2] = 1,
    utc_times: bool = False,
) -> Operation[str]:
    """`POST /api/v{version}/nql/execute` with `Accept: text/csv`; returns the CSV text."""
    if version not in (1, 2):
        raise ValueError(f"version {version!r} must be 1 or 2")
    path, payload, headers = _nql_execute(version, query_id, parameters, utc_times, "text/csv")
    return Operation("POST", path, lambda r: r.text, json=payload, headers=headers)


def nql_export(
    query_id: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    compression: Compression | None = None,
    method: Literal["GET", "POST"] = "POST",
) -> Operation[NqlExport]:
    """`GET|POST /api/v1/nql/export`: start an export."""

    def parse(r: httpx.Response) -> NqlExport:
        return NqlExport.from_wire(body(r))

    query_id = _query_id(query_id)
    if compression is not None and compression not in ("ZSTD", "GZIP", "NONE"):
        raise ValueError(f"compression {compression!r} must be ZSTD, GZIP or NONE")
    if method == "POST":
        payload: dict[str, Any] = {"queryId": query_id, "parameters": _parameters(parameters)}
        if compression is not None:
            payload["compression"] = compression
        return Operation("POST", "/api/v1/nql/export", parse, json=payload)
    if method != "GET":
        raise ValueError(f"method {method!r} must be GET or POST")
    # GET: the parameters object is exploded into query parameters (OpenAPI style=form).
    params = {k: str(v) for k, v in _parameters(parameters).items()}
    params["queryId"] = query_id
    if compression is not None:
        params["compression"] = compression
    return Operation("GET", "/api/v1/nql/export", parse, params=params)


def nql_export_status(export_id: str) -> Operation[NqlExportStatus]:
    """`GET /api/v1/nql/status/{exportId}` (`truncated` is True on 206)."""
    if not export_id:
        raise ValueError("export_id is required")
    return Operation(
        "GET",
        f"/api/v1/nql/status/{quote(export_id, safe='')}",
        lambda r: NqlExportStatus.from_wire(body(r), truncated=r.status_code == 206),
    )


# --- Workflows -------------------------------------------------------------------------------


def workflows_list(
    *,
    dependency: Dependency | None = None,
    trigger_method: TriggerMethod | None = None,
    fetch_only_active: bool | None = None,
) -> Operation[list[Workflow]]:
    """`GET /api/v1/workflows`, with only the filters given."""
    params: dict[str, str] = {}
    if dependency is not None:
        params["dependency"] = dependency
    if trigger_method is not None:
        params["triggerMethod"] = trigger_method
    if fetch_only_active is not None:
        params["fetchOnlyActiveWorkflows"] = "true" if fetch_only_active else "false"
    # With no filter the call is exactly `GET /api/v1/workflows`, as real clients make it.
    return Operation("GET", "/api/v1/workflows", _list_of(Workflow), params=params or None)


def workflow_details(nql_id: str) -> Operation[list[Workflow]]:
    """`GET /api/v1/workflows/details?nqlId=...`."""
    return Operation(
        "GET", "/api/v1/workflows/details", _list_of(Workflow), params={"nqlId": nql_id}
    )


def workflow_execute(
    workflow_id: str,
    *,
    devices: Sequence[str] = (),
    users: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
) -> Operation[WorkflowExecution]:
    """`POST /api/v1/workflows/execute` with device UUIDs and user SIDs."""
    payload: dict[str, Any] = {"workflowId": workflow_id}
    if devices:
        payload["devices"] = list(devices)
    if users:
        payload["users"] = list(users)
    if params:
        payload["params"] = dict(params)
    return Operation(
        "POST",
        "/api/v1/workflows/execute",
        lambda r: WorkflowExecution.from_wire(body(r)),
        json=payload,
    )


def workflow_execute_v2(
    workflow_id: str,
    *,
    devices: Sequence[WorkflowDevice] = (),
    users: Sequence[WorkflowUser] = (),
    params: Mapping[str, str] | None = None,
) -> Operation[WorkflowExecution]:
    """`POST /api/v2/workflows/execute` with users and devices by any documented id."""
    payload: dict[str, Any] = {"workflowId": workflow_id}
    if devices:
        payload["devices"] = [d.to_wire() for d in devices]
    if users:
        payload["users"] = [u.to_wire() for u in users]
    if params:
        payload["params"] = dict(params)
    return Operation(
        "POST",
        "/api/v2/workflows/execute",
        lambda r: WorkflowExecution.from_wire(body(r)),
        json=payload,
    )


# --- Remote Actions --------------------------------------------------------------------------


def remote_actions_list() -> Operation[list[RemoteAction]]:
    """`GET /api/v1/act/remote-action`."""
    return Operation("GET", "/api/v1/act/remote-action", _list_of(RemoteAction))


def remote_action_details(nql_id: str) -> Operation[RemoteAction]:
    """`GET /api/v1/act/remote-action/details?nql-id=...` (NotFoundError on 404)."""
    return Operation(
        "GET",
        "/api/v1/act/remote-action/details",
        lambda r: RemoteAction.from_wire(body(r)),
        params={"nql-id": nql_id},
    )


def remote_action_execute(
    remote_action_id: str,
    devices: Sequence[str],
    *,
    params: Mapping[str, str] | None = None,
    expires_in_minutes: int | None = None,
    trigger_info: TriggerInfo | None = None,
) -> Operation[RemoteActionExecution]:
    """`POST /api/v1/act/execute` on collector ids."""
    payload: dict[str, Any] = {"remoteActionId": remote_action_id, "devices": list(devices)}
    if params:
        payload["params"] = dict(params)
    if expires_in_minutes is not None:
        payload["expiresInMinutes"] = expires_in_minutes
    if trigger_info is not None:
        payload["triggerInfo"] = trigger_info.to_wire()
    return Operation(
        "POST",
        "/api/v1/act/execute",
        lambda r: RemoteActionExecution.from_wire(body(r)),
        json=payload,
    )


# --- Enrichment, Campaigns, Spark, Data management ------------------------------------------


def enrichment_fields(
    domain: str, enrichments: Sequence[Enrichment]
) -> Operation[EnrichmentResult]:
    """`POST /api/v1/enrichment/data/fields`: success (200) or partial success (207)."""
    payload = {"domain": domain, "enrichments": [e.to_wire() for e in enrichments]}
    return Operation(
        "POST",
        "/api/v1/enrichment/data/fields",
        lambda r: EnrichmentResult.from_wire(body(r)),
        json=payload,
    )


def campaign_trigger(
    campaign_nql_id: str,
    user_sids: Sequence[str],
    *,
    expires_in_minutes: int,
    parameters: Mapping[str, str] | None = None,
) -> Operation[CampaignTriggerResult]:
    """`POST /api/v1/euf/campaign/trigger`."""
    payload: dict[str, Any] = {
        "campaignNqlId": campaign_nql_id,
        "userSid": list(user_sids),
        "expiresInMinutes": expires_in_minutes,
    }
    if parameters:
        payload["parameters"] = dict(parameters)
    return Operation(
        "POST",
        "/api/v1/euf/campaign/trigger",
        lambda r: CampaignTriggerResult.from_wire(body(r)),
        json=payload,
    )


def spark_handoff(
    user_principal_name: str,
    parts: Sequence[SparkPart],
    *,
    timezone: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Operation[None]:
    """`POST /api/v1/spark/handoff` (204)."""
    if not user_principal_name:
        raise ValueError("user_principal_name is required (sent as User-Principal-Name)")
    headers = {"User-Principal-Name": user_principal_name}
    if timezone is not None:
        headers["Timezone"] = timezone
    payload: dict[str, Any] = {"message": {"parts": [p.to_wire() for p in parts]}}
    if metadata is not None:
        payload["metadata"] = dict(metadata)
    return Operation("POST", "/api/v1/spark/handoff", lambda r: None, json=payload, headers=headers)


def device_deletions(
    devices: Sequence[DeletionDevice], *, request_id: str | None = None
) -> Operation[DeviceDeletionResult]:
    """`POST /api/v1/data-management/device/deletions` (202), with an x-request-id."""
    request_id = request_id or str(uuid.uuid4())

    def parse(r: httpx.Response) -> DeviceDeletionResult:
        return DeviceDeletionResult.from_wire(
            body(r), request_id=r.headers.get("x-request-id", request_id)
        )

    return Operation(
        "POST",
        "/api/v1/data-management/device/deletions",
        parse,
        json={"devices": [d.to_wire() for d in devices]},
        headers={"x-request-id": request_id},
    )


# --- Classic APIs: Engines, Audit trail, NXQL ------------------------------------------------

_AUDIT_SCOPES: tuple[AuditScope, ...] = ("portal", "engines", "engine")
_NXQL_PLATFORMS: tuple[NxqlPlatform, ...] = ("windows", "mac_os", "mobile")
_NXQL_FORMATS: dict[NxqlFormat, str] = {
    "csv": "text/csv",
    "json": "application/json",
    "xml": "application/xml",
    "html": "text/html",
}


def engines_list() -> Operation[list[Engine]]:
    """`GET /api/configuration/v1/engines` (permission `engines`)."""
    return Operation("GET", "/api/configuration/v1/engines", _list_of(Engine))


def _instant(name: str, value: dt.datetime | str | None) -> str | None:
    # The server reads ISO 8601 and takes a time without an offset as UTC.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise ValueError(f"{name} must be a datetime or an ISO 8601 string, not {value!r}")


def audit_log(
    scope: AuditScope = "portal",
    *,
    engine: str | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> Operation[AuditLogPage]:
    """`GET /audit-trail/api/v1/{portal|engines|engine/<engine>}/type/auditlog`
    (permission `audit-trail`): one page, oldest first, with the `X-Total-Count` total.
    `since` is sent as `from` (inclusive), `until` as `to` (exclusive)."""
    if scope not in _AUDIT_SCOPES:
        raise ValueError(f"scope {scope!r} must be one of: {', '.join(_AUDIT_SCOPES)}")
    if scope == "engine":
        if not engine:
            raise ValueError("engine is required when scope is 'engine'")
        path = f"/audit-trail/api/v1/engine/{quote(engine, safe='')}/type/auditlog"
    else:
        if engine is not None:
            raise ValueError(f"engine is only taken with scope 'engine', not {scope!r}")
        path = f"/audit-trail/api/v1/{scope}/type/auditlog"
    params: dict[str, str] = {}
    for name, value in (("from", _instant("since", since)), ("to", _instant("until", until))):
        if value is not None:
            params[name] = value
    for name, number in (("offset", offset), ("limit", limit)):
        if number is not None:
            if isinstance(number, bool) or not isinstance(number, int):
                raise ValueError(f"{name} must be an integer, not {number!r}")
            params[name] = str(number)

    def parse(r: httpx.Response) -> AuditLogPage:
        items = _list_of(AuditLogEntry)(r)
        header = r.headers.get("x-total-count")
        try:
            total = int(header) if header is not None else None
        except ValueError as exc:
            raise ShapeError(f"X-Total-Count: {header!r} is not an integer") from exc
        return AuditLogPage(items=items, total=total, offset=offset or 0, limit=limit)

    return Operation("GET", path, parse, params=params or None)


def nxql(
    query: str,
    *,
    platforms: Sequence[NxqlPlatform] = (),
    format: NxqlFormat = "json",
    hr: bool = False,
    parameters: Sequence[Any] = (),
) -> Operation[NxqlResult]:
    """`POST /2/query` (permission `nql`): `parameters` fill `%1`, `%2`, ...; rows parsed
    for format json, the text as sent for csv, xml and html. A form body: `parameters[i]` is sent
    as `p{i+1}` (NXQL `%{i+1}`)."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query is required: an NXQL (select ...) expression")
    if format not in _NXQL_FORMATS:
        raise ValueError(f"format {format!r} must be one of: {', '.join(_NXQL_FORMATS)}")
    if isinstance(platforms, str):
        raise ValueError(f"platforms must be a sequence such as ({platforms!r},), not a string")
    for platform in platforms:
        if platform not in _NXQL_PLATFORMS:
            raise ValueError(f"platform {platform!r} must be one of: {', '.join(_NXQL_PLATFORMS)}")
    if isinstance(parameters, str):
        raise ValueError("parameters must be a sequence of values (p1, p2, ...), not a string")
    form: dict[str, str | list[str]] = {"query": query, "format": format}
    if platforms:
        form["platform"] = list(dict.fromkeys(platforms))
    if hr:
        form["hr"] = "true"
    for i, value in enumerate(parameters, start=1):
        form[f"p{i}"] = _nxql_value(value)

    def parse(r: httpx.Response) -> NxqlResult:
        truncated = r.headers.get("x-truncated", "").lower() == "true"
        return NxqlResult.from_wire(format, r.text, truncated=truncated)

    return Operation(
        "POST", "/2/query", parse, data=form, headers={"Accept": _NXQL_FORMATS[format]}
    )


def _nxql_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
