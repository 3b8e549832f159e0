"""The seven platform API families under ``/api/v1`` and ``/api/v2``.

Thin: each route is protected (RFC 6750, :mod:`credgate.oauth.rfc6750`) by the permission that
:data:`credgate.core.paths.PROTECTED` lists for its path, hands the raw request to the
family's framework-free parser (which raises the documented error body), then either forwards
to the family's upstream or answers from credgate's own store.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.routing import APIRoute

from credgate.core.asgi import BodyTooLarge
from credgate.core.config import Settings
from credgate.core.paths import PROTECTED
from credgate.core.services import provided
from credgate.oauth.errors import OAuth2Error
from credgate.oauth.rfc6750 import require_route
from credgate.oauth.rfc9068 import VerifiedToken
from credgate.platform.definitions import (
    DefinitionService,
    Kind,
    StoredDefinition,
    to_query,
    to_remote_action,
    to_workflow,
)
from credgate.platform.nql.engine import ParameterError, QueryDefinition, QueryExecutionError
from credgate.platform.nql.export import ExportJob
from credgate.platform.nql.render import CSV_MEDIA_TYPE, render_v1, render_v2
from credgate.platform.schemas import (
    campaigns,
    devices,
    enrichment,
    nql,
    remote_actions,
    spark,
    workflows,
)
from credgate.platform.schemas._common import RequestError
from credgate.platform.services import ExportLimitError, PlatformService
from credgate.platform.upstream import UpstreamError, forward

__all__ = ["bearer_failure", "install_platform", "router"]

T = TypeVar("T")

MAX_EXECUTE_ROWS: Final = 100_000
_JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class Family:
    """One API family: its upstream setting, its error body, and the status it answers a
    refused request with (its routes' permission is in :data:`credgate.core.paths.PROTECTED`).

    ``refused`` is 400 wherever the family's document lists it; NQL's document lists no 400, so
    its refusals take the closest status it does list (``docs/contract.md``).
    """

    name: str
    upstream_setting: str
    prefixes: tuple[str, ...]
    error: Callable[[str, str, str, int], dict[str, object]]
    refused: int = 400

    def fail(self, status: int, code: str, message: str, source: str = "body") -> RequestError:
        status = self.refused if status == 400 else status
        return RequestError(status, self.error(code, message, source, status))

    def upstream(self, settings: Settings) -> str | None:
        value: str | None = getattr(settings, self.upstream_setting)
        return value


def _enrichment_error(code: str, message: str, _source: str, status: int) -> dict[str, object]:
    if status in (401, 403):
        return enrichment.forbidden_body(message)
    detail = enrichment.EnrichmentError(-1, (), (enrichment.ErrorDetail(message, code),))
    return enrichment.error_body([detail])


WORKFLOWS = Family(
    "workflows",
    "upstream_workflows_url",
    ("/api/v1/workflows", "/api/v2/workflows"),
    lambda code, msg, _src, _st: workflows.error_body(code, msg),
)
REMOTE_ACTIONS = Family(
    "remote-actions",
    "upstream_remote_actions_url",
    ("/api/v1/act/",),
    lambda code, msg, _src, _st: remote_actions.error_body(code, msg),
)
NQL = Family(
    "nql",
    "upstream_nql_url",
    ("/api/v1/nql/", "/api/v2/nql/"),
    lambda _code, msg, src, status: nql.error_body(msg, status, src),
    refused=nql.REFUSED,
)
ENRICHMENT = Family(
    "enrichment", "upstream_enrichment_url", ("/api/v1/enrichment/",), _enrichment_error
)
CAMPAIGNS = Family(
    "campaigns",
    "upstream_campaigns_url",
    ("/api/v1/euf/",),
    lambda code, msg, _src, _st: campaigns.error_body(code, msg),
)
SPARK = Family(
    "spark",
    "upstream_spark_url",
    ("/api/v1/spark/",),
    lambda _code, msg, _src, _st: spark.error_body(msg),
)
DATA_MANAGEMENT = Family(
    "data-management",
    "upstream_data_management_url",
    ("/api/v1/data-management/",),
    lambda code, msg, _src, status: devices.error_body(devices.documented_code(code, status), msg),
)
FAMILIES: Final = (WORKFLOWS, REMOTE_ACTIONS, NQL, ENRICHMENT, CAMPAIGNS, SPARK, DATA_MANAGEMENT)


def family_of(path: str) -> Family | None:
    """The family serving ``path``, by its documented prefix (ASCII case aside)."""
    lowered = path.lower()
    return next((f for f in FAMILIES if lowered.startswith(f.prefixes)), None)


router = APIRouter(tags=["Platform APIs"])

_route_token = require_route(PROTECTED.permission_of)
Token = Annotated[VerifiedToken, Depends(_route_token)]
"""The bearer token of a request, holding the permission :data:`PROTECTED` lists for its route."""

Config = Annotated[Settings, Depends(provided(Settings))]
Definitions = Annotated[DefinitionService, Depends(provided(DefinitionService))]
Platform = Annotated[PlatformService, Depends(provided(PlatformService))]


async def _run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


def _request_id(request: Request) -> str:
    value = request.headers.get("x-request-id", "").strip()
    return value[:200] if value else str(uuid.uuid4())


def _answer(request: Request, status: int, body: object | None) -> Response:
    headers = {"x-request-id": _request_id(request), "cache-control": "no-store"}
    if body is None:
        return Response(status_code=status, headers=headers)
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content, status_code=status, media_type=_JSON, headers=headers)


async def _body(request: Request, family: Family) -> bytes:
    """The raw JSON body, refusing another content type or an oversized body."""
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media and media != _JSON and not media.endswith("+json"):
            raise family.fail(
                400,
                "INVALID_REQUEST",
                f"Content-Type: must be application/json, not {media[:80]!r}",
                "Content-Type",
            )
    # The limit (CREDGATE_MAX_PLATFORM_API_BYTES) is applied while the body streams, see
    # credgate.core.ingress; here it is only answered in the family's error format.
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
    except BodyTooLarge as exc:
        raise family.fail(413, "PAYLOAD_TOO_LARGE", f"body: at most {exc.limit} bytes") from None
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Record:
    """How a relayed write is entered in credgate's own request log."""

    platform: PlatformService
    kind: str
    payload: dict[str, Any]
    target: str = ""

    async def enter(
        self, token: VerifiedToken, state: str, result: dict[str, object] | None = None
    ) -> None:
        await _run(
            self.platform.record,
            self.kind,
            token.client_id,
            state=state,
            payload=self.payload,
            result=result,
            target=self.target,
        )


async def _relay(
    request: Request,
    settings: Settings,
    family: Family,
    base_url: str,
    body: bytes,
    token: VerifiedToken,
    record: _Record | None = None,
) -> Response:
    """Forward the request to the family's upstream and hand back its answer; with ``record``,
    log it as forwarded (or as unavailable, when the upstream cannot be reached)."""
    try:
        answer = await forward(
            base_url,
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=dict(request.headers),
            body=body,
            token=token,
            timeout_seconds=settings.upstream_timeout_seconds,
        )
    except UpstreamError as exc:
        if record is not None:
            await record.enter(token, "UPSTREAM_UNAVAILABLE")
        raise family.fail(502, "UPSTREAM_UNAVAILABLE", str(exc)) from None
    if record is not None:
        await record.enter(token, "FORWARDED", {"upstreamStatus": answer.status})
    headers = dict(answer.headers)
    headers.setdefault("x-request-id", _request_id(request))
    return Response(answer.body, status_code=answer.status, headers=headers)


async def _submitted(
    platform: PlatformService,
    kind: str,
    token: VerifiedToken,
    payload: dict[str, Any],
    target: str,
    request_id: str,
    result: dict[str, object] | None = None,
) -> None:
    """Record a request credgate answered itself, as submitted."""
    await _run(
        platform.record,
        kind,
        token.client_id,
        state="SUBMITTED",
        payload=payload,
        result=result,
        target=target,
        request_id=request_id,
    )


def _find(definitions: DefinitionService, kind: Kind, key: str) -> StoredDefinition | None:
    found = definitions.find(kind, key)
    if found is not None:
        return found
    return next((d for d in definitions.list(kind) if d.uuid == key), None)


async def _enabled(
    definitions: DefinitionService,
    family: Family,
    kind: Kind,
    key: str,
    field: str,
    refusal: str = "is not enabled for the API",
    *,
    code: str = "NOT_API_ENABLED",
) -> StoredDefinition:
    """The definition a trigger names, or the family's 400: unknown, or not enabled for the API."""
    found = await _run(_find, definitions, kind, key)
    noun = kind.replace("_", " ")
    if found is None:
        raise family.fail(400, "NOT_FOUND", f"{field}: no {noun} {key!r}")
    if not found.api_enabled:
        raise family.fail(400, code, f"{field}: {noun} {key!r} {refusal}")
    return found


def _payload(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped


# Workflows -------------------------------------------------------------------------------------


async def _list_workflows(
    request: Request, definitions: DefinitionService
) -> list[dict[str, object]]:
    filters = workflows.parse_list_filters(dict(request.query_params))
    stored = definitions.cached("workflow")
    if stored is None:
        stored = await _run(definitions.list, "workflow")
    items = (to_workflow(d) for d in stored)
    return [workflows.workflow_body(w) for w in items if w.matches(filters)]


@router.get("/api/v1/workflows", summary="List workflows")
async def list_workflows(
    request: Request, token: Token, settings: Config, definitions: Definitions
) -> Response:
    if (base := WORKFLOWS.upstream(settings)) is not None:
        workflows.parse_list_filters(dict(request.query_params))
        return await _relay(request, settings, WORKFLOWS, base, b"", token)
    return _answer(request, 200, await _list_workflows(request, definitions))


@router.get("/api/v1/workflows/details", summary="Workflow details")
async def workflow_details(
    request: Request, token: Token, settings: Config, definitions: Definitions
) -> Response:
    nql_id = workflows.parse_details_query(dict(request.query_params))
    if (base := WORKFLOWS.upstream(settings)) is not None:
        return await _relay(request, settings, WORKFLOWS, base, b"", token)
    found = await _run(_find, definitions, "workflow", nql_id)
    if found is None:
        raise WORKFLOWS.fail(400, "NOT_FOUND", f"nqlId: no workflow {nql_id!r}")
    return _answer(request, 200, [workflows.workflow_body(to_workflow(found))])


async def _execute_workflow(
    request: Request,
    token: VerifiedToken,
    parse: Callable[[bytes], Any],
    settings: Settings,
    definitions: DefinitionService,
    platform: PlatformService,
) -> Response:
    body = await _body(request, WORKFLOWS)
    parsed = parse(body)
    payload = _payload(parsed)
    if (base := WORKFLOWS.upstream(settings)) is not None:
        record = _Record(platform, "workflow_execution", payload, parsed.workflow_id)
        return await _relay(request, settings, WORKFLOWS, base, body, token, record)
    found = await _enabled(
        definitions,
        WORKFLOWS,
        "workflow",
        parsed.workflow_id,
        "workflowId",
        "is inactive or cannot be triggered through the API",
        code="NOT_API_TRIGGERABLE",
    )
    request_uuid, execution = str(uuid.uuid4()), str(uuid.uuid4())
    result = workflows.execute_response(request_uuid, [execution])
    await _submitted(
        platform, "workflow_execution", token, payload, found.key, request_uuid, result
    )
    return _answer(request, 200, result)


@router.post("/api/v1/workflows/execute", summary="Execute a workflow (v1)")
async def execute_workflow_v1(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    return await _execute_workflow(
        request, token, workflows.parse_execute_v1, settings, definitions, platform
    )


@router.post("/api/v2/workflows/execute", summary="Execute a workflow (v2)")
async def execute_workflow_v2(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    return await _execute_workflow(
        request, token, workflows.parse_execute_v2, settings, definitions, platform
    )


@router.post(
    "/api/v1/workflows/workflows/{workflow_uuid}/execution/{execution_uuid}/trigger",
    summary="Trigger a workflow execution waiting for an event",
)
async def trigger_workflow_event(
    workflow_uuid: str,
    execution_uuid: str,
    request: Request,
    token: Token,
    settings: Config,
    definitions: Definitions,
    platform: Platform,
) -> Response:
    workflow_uuid, execution_uuid = workflows.parse_trigger_path(workflow_uuid, execution_uuid)
    body = await _body(request, WORKFLOWS)
    parsed = workflows.parse_trigger(body)
    payload = {"executionUuid": execution_uuid, **_payload(parsed)}
    if (base := WORKFLOWS.upstream(settings)) is not None:
        record = _Record(platform, "workflow_trigger", payload, workflow_uuid)
        return await _relay(request, settings, WORKFLOWS, base, body, token, record)
    found = await _run(_find, definitions, "workflow", workflow_uuid)
    if found is None or found.uuid != workflow_uuid:
        raise WORKFLOWS.fail(400, "NOT_FOUND", f"workflowUuid: no workflow {workflow_uuid!r}")
    request_uuid = str(uuid.uuid4())
    await _submitted(platform, "workflow_trigger", token, payload, found.key, request_uuid)
    return _answer(request, 200, workflows.trigger_response(request_uuid))


# Remote actions --------------------------------------------------------------------------------


@router.get("/api/v1/act/remote-action", summary="List remote actions")
async def list_remote_actions(
    request: Request, token: Token, settings: Config, definitions: Definitions
) -> Response:
    if (base := REMOTE_ACTIONS.upstream(settings)) is not None:
        return await _relay(request, settings, REMOTE_ACTIONS, base, b"", token)
    stored = await _run(definitions.list, "remote_action")
    body = [remote_actions.remote_action_body(to_remote_action(d)) for d in stored]
    return _answer(request, 200, body)


@router.get("/api/v1/act/remote-action/details", summary="Remote action details")
async def remote_action_details(
    request: Request, token: Token, settings: Config, definitions: Definitions
) -> Response:
    nql_id = remote_actions.parse_details_query(dict(request.query_params))
    if (base := REMOTE_ACTIONS.upstream(settings)) is not None:
        return await _relay(request, settings, REMOTE_ACTIONS, base, b"", token)
    found = await _run(_find, definitions, "remote_action", nql_id)
    if found is None:
        raise REMOTE_ACTIONS.fail(404, "NOT_FOUND", f"nql-id: no remote action {nql_id!r}")
    return _answer(request, 200, remote_actions.remote_action_body(to_remote_action(found)))


@router.post("/api/v1/act/execute", summary="Execute a remote action")
async def execute_remote_action(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    body = await _body(request, REMOTE_ACTIONS)
    parsed = remote_actions.parse_execute(body)
    payload = _payload(parsed)
    if (base := REMOTE_ACTIONS.upstream(settings)) is not None:
        record = _Record(platform, "remote_action", payload, parsed.remote_action_id)
        return await _relay(request, settings, REMOTE_ACTIONS, base, body, token, record)
    found = await _enabled(
        definitions, REMOTE_ACTIONS, "remote_action", parsed.remote_action_id, "remoteActionId"
    )
    request_id = str(uuid.uuid4())
    result = remote_actions.execute_response(request_id, parsed.expires_in_minutes)
    await _submitted(platform, "remote_action", token, payload, found.key, request_id, result)
    return _answer(request, 200, result)


# NQL -------------------------------------------------------------------------------------------


def _load_query(definitions: DefinitionService, query_id: str) -> QueryDefinition:
    found = definitions.find("query", query_id)
    if found is None or not found.api_enabled:
        raise nql.not_found(query_id)
    return to_query(found)


async def _run_query(
    run: Callable[..., T], query: QueryDefinition, parameters: dict[str, str], max_rows: int
) -> T:
    try:
        return await _run(run, query, parameters, max_rows=max_rows)
    except ParameterError as exc:
        raise nql.parameter_error(exc) from None
    except QueryExecutionError as exc:
        raise NQL.fail(400, "INVALID_QUERY", str(exc), "queryId") from None


async def _nql_execute(
    request: Request,
    token: VerifiedToken,
    version: int,
    settings: Settings,
    definitions: DefinitionService,
    platform: PlatformService,
) -> Response:
    output = nql.negotiate_format(request.headers.get("accept"))
    body = await _body(request, NQL)
    parsed = nql.parse_execute(body)
    if (base := NQL.upstream(settings)) is not None:
        return await _relay(request, settings, NQL, base, body, token)
    query = await _run(_load_query, definitions, parsed.query_id)
    parameters = dict(parsed.parameters)
    if output == "csv":  # streamed from the database, batch by batch, off the event loop
        chunks = await _run_query(platform.csv_stream, query, parameters, MAX_EXECUTE_ROWS)
        headers = {"x-request-id": _request_id(request), "cache-control": "no-store"}
        return StreamingResponse(chunks, media_type=CSV_MEDIA_TYPE, headers=headers)
    result = await _run_query(platform.run_query, query, parameters, MAX_EXECUTE_ROWS)
    executed_at = datetime.now(UTC)
    render = render_v1 if version == 1 else render_v2
    utc = nql.utc_times_requested(request.headers.get("x-utc-times"))
    return _answer(request, 200, render(result, executed_at, utc=utc))


@router.post("/api/v1/nql/execute", summary="Run a saved NQL query (v1)")
async def nql_execute_v1(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    return await _nql_execute(request, token, 1, settings, definitions, platform)


@router.post("/api/v2/nql/execute", summary="Run a saved NQL query (v2)")
async def nql_execute_v2(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    return await _nql_execute(request, token, 2, settings, definitions, platform)


async def _nql_export(
    request: Request,
    token: VerifiedToken,
    parsed: nql.ExportRequest,
    body: bytes,
    settings: Settings,
    definitions: DefinitionService,
    platform: PlatformService,
) -> Response:
    payload = _payload(parsed)
    if (base := NQL.upstream(settings)) is not None:
        record = _Record(platform, "nql_export", payload, parsed.query_id)
        return await _relay(request, settings, NQL, base, body, token, record)
    query = await _run(_load_query, definitions, parsed.query_id)
    export_id = str(uuid.uuid4())
    try:
        await _run(platform.submit_export, export_id, token.client_id, query, payload)
    except ParameterError as exc:
        raise nql.parameter_error(exc) from None
    except ExportLimitError as exc:
        limited = _answer(request, 429, nql.error_body(str(exc), 429, "queryId"))
        limited.headers["retry-after"] = str(exc.retry_after)
        return limited
    platform.exports.wake()  # the export runs on the worker's thread; the answer is at once
    return _answer(request, 200, nql.export_response(export_id))


@router.get("/api/v1/nql/export", summary="Export a saved NQL query's results")
async def nql_export_get(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    parsed = nql.parse_export_query(request.query_params.multi_items())
    return await _nql_export(request, token, parsed, b"", settings, definitions, platform)


@router.post("/api/v1/nql/export", summary="Export a saved NQL query's results")
async def nql_export_post(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    body = await _body(request, NQL)
    parsed = nql.parse_export(body)
    return await _nql_export(request, token, parsed, body, settings, definitions, platform)


@router.get("/api/v1/nql/status/{export_id}", summary="Status of an NQL export")
async def nql_status(
    export_id: str, request: Request, token: Token, settings: Config, platform: Platform
) -> Response:
    if (base := NQL.upstream(settings)) is not None:
        return await _relay(request, settings, NQL, base, b"", token)
    view = await _run(platform.get_request, export_id)
    if view is None or view.kind != "nql_export" or view.client_id != token.client_id:
        raise NQL.fail(404, "NOT_FOUND", f"No export with the ID {export_id[:80]}", "exportId")
    result = view.result or {}
    job = ExportJob(export_id)
    if view.state == "COMPLETED":
        link = platform.results_link(settings.api_base_url, export_id)
        job = job.complete(link, truncated=bool(result.get("truncated")))
    elif view.state == "ERROR":
        job = job.fail(str(result.get("errorDescription", "the export failed")))
    elif view.state == "EXPIRED":
        job = job.fail("the results file has expired; start the export again")
    elif view.state == "IN_PROGRESS":
        job = job.start()
    return _answer(request, job.http_status, job.body())


_MEDIA: Final = {".csv": "text/csv", ".gz": "application/gzip", ".zst": "application/zstd"}


@router.get("/exports/{export_id}", summary="Download an NQL export (signed link)")
async def download_export(export_id: str, request: Request, platform: Platform) -> Response:
    """The results file behind the 15-minute link the status endpoint hands out."""
    expires = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    if not platform.check_link(export_id, expires, signature):
        return _answer(request, 403, {"message": "the link is invalid or has expired"})
    path = await _run(platform.export_file, export_id)
    if path is None:
        return _answer(request, 404, {"message": "the results file is gone"})
    return FileResponse(
        path,
        media_type=_MEDIA.get(path.suffix, "application/octet-stream"),
        filename=path.name,
        headers={"cache-control": "no-store"},
    )


# Enrichment ------------------------------------------------------------------------------------


def _enrichment_payload(parsed: enrichment.EnrichmentRequest) -> dict[str, Any]:
    return {
        "domain": parsed.domain,
        "enrichments": [
            {
                "identification": [
                    {"name": e.identification.name, "value": e.identification.value}
                ],
                "fields": [{"name": f.name, "value": f.value} for f in e.fields],
            }
            for e in parsed.enrichments
        ],
        "invalid": len(parsed.errors),
    }


@router.post("/api/v1/enrichment/data/fields", summary="Write enrichment fields")
async def enrich(request: Request, token: Token, settings: Config, platform: Platform) -> Response:
    body = await _body(request, ENRICHMENT)
    parsed = enrichment.parse_fields(body)
    if (base := ENRICHMENT.upstream(settings)) is not None:
        payload = _enrichment_payload(parsed)
        record = _Record(platform, "enrichment", payload)
        return await _relay(request, settings, ENRICHMENT, base, body, token, record)
    applied = await _run(platform.apply_enrichment, parsed)
    status, answer = enrichment.decide(applied)
    await _run(
        platform.record,
        "enrichment",
        token.client_id,
        state=str(answer["status"]).upper(),
        payload=_enrichment_payload(applied),
        result=answer,
        target=parsed.domain,
    )
    return _answer(request, status, answer)


# Campaigns -------------------------------------------------------------------------------------


@router.post("/api/v1/euf/campaign/trigger", summary="Trigger a campaign")
async def trigger_campaign(
    request: Request, token: Token, settings: Config, definitions: Definitions, platform: Platform
) -> Response:
    body = await _body(request, CAMPAIGNS)
    parsed = campaigns.parse_trigger(body)
    payload = _payload(parsed)
    if (base := CAMPAIGNS.upstream(settings)) is not None:
        record = _Record(platform, "campaign", payload, parsed.campaign_nql_id)
        return await _relay(request, settings, CAMPAIGNS, base, body, token, record)
    found = await _enabled(
        definitions,
        CAMPAIGNS,
        "campaign",
        parsed.campaign_nql_id,
        "campaignNqlId",
        "is inactive or not enabled for the API",
    )
    declared = set(found.data.get("parameters", []))
    unknown = sorted(set(parsed.parameters) - declared)
    if unknown:
        raise CAMPAIGNS.fail(
            400,
            "INVALID_PARAMETER",
            f"parameters: the campaign has no parameter {', '.join(map(repr, unknown[:10]))}",
        )
    result = campaigns.trigger_response(campaigns.outcomes(parsed.user_sid))
    await _run(
        platform.record,
        "campaign",
        token.client_id,
        state="SUBMITTED",
        payload=payload,
        result=result,
        target=found.key,
    )
    return _answer(request, 200, result)


# Spark -----------------------------------------------------------------------------------------


@router.post("/api/v1/spark/handoff", summary="Hand a conversation over to Spark", status_code=204)
async def spark_handoff(
    request: Request, token: Token, settings: Config, platform: Platform
) -> Response:
    body = await _body(request, SPARK)
    handoff = spark.parse_handoff(dict(request.headers), body)
    payload = {
        "userPrincipalName": handoff.user_principal_name,
        "timezone": handoff.timezone.key if handoff.timezone else None,
        "body": _payload(handoff.body),
    }
    if (base := SPARK.upstream(settings)) is not None:
        record = _Record(platform, "handoff", payload, handoff.user_principal_name)
        return await _relay(request, settings, SPARK, base, body, token, record)
    await _run(
        platform.record,
        "handoff",
        token.client_id,
        state="RECEIVED",
        payload=payload,
        target=handoff.user_principal_name,
    )
    return _answer(request, 204, None)


# Data management -------------------------------------------------------------------------------


@router.post(
    "/api/v1/data-management/device/deletions",
    summary="Schedule device deletions",
    status_code=202,
)
async def delete_devices(
    request: Request, token: Token, settings: Config, platform: Platform
) -> Response:
    body = await _body(request, DATA_MANAGEMENT)
    parsed = devices.parse_deletions(body)
    payload = _payload(parsed)
    if (base := DATA_MANAGEMENT.upstream(settings)) is not None:
        record = _Record(platform, "device_deletion", payload)
        return await _relay(request, settings, DATA_MANAGEMENT, base, body, token, record)
    outcomes = [
        devices.DeletionOutcome(d.uid, d.name, devices.initial_status(d)) for d in parsed.devices
    ]
    scheduled = [o.uid for o in outcomes if o.status == "SCHEDULED"]
    removed = await _run(platform.delete_devices, scheduled)
    result = devices.deletion_response(outcomes)
    await _run(
        platform.record,
        "device_deletion",
        token.client_id,
        state="COMPLETED",
        payload=payload,
        result={**result, "removedFromInventory": removed},
    )
    return _answer(request, 202, result)


# Installation ----------------------------------------------------------------------------------


def bearer_failure(path: str, exc: OAuth2Error) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The answer to a refused bearer token on ``path``: status, challenge headers and body.

    RFC 6750 section 3: the challenge says what is wrong; the body is the family's own documented
    error body, so that a typed client of the family can read it.
    """
    family = family_of(path)
    body: dict[str, object]
    status = exc.status
    if family is None:
        body = {"error": exc.error, "error_description": exc.description, "message": str(exc)}
    else:
        failure = family.fail(status, exc.error.upper(), exc.description or str(exc))
        status, body = failure.status, failure.body
    return status, exc.headers(), json.dumps(body, separators=(",", ":")).encode()


def install_platform(framework: FastAPI) -> None:
    """Add the platform routes and the renderers of their errors to ``framework``."""

    @framework.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> Response:
        return _answer(request, exc.status, exc.body)

    @framework.exception_handler(OAuth2Error)
    async def _oauth_error(request: Request, exc: OAuth2Error) -> Response:
        status, challenge, content = bearer_failure(request.url.path, exc)
        headers = {k.decode(): v.decode() for k, v in challenge}
        headers["x-request-id"] = _request_id(request)
        headers["cache-control"] = "no-store"
        return Response(content, status_code=status, media_type=_JSON, headers=headers)

    for route in router.routes:
        # A protected route missing from the path table stops the application here, not at
        # its first request.
        if isinstance(route, APIRoute) and any(
            d.call is _route_token for d in route.dependant.dependencies
        ):
            PROTECTED.permission_of(route.path)
    framework.include_router(router)
