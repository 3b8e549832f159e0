"""The classic APIs (NXQL, Engines, Audit trail); the engines registry's admin REST API is in
:mod:`credgate.classic.api`.

Thin: authenticate the caller (:mod:`credgate.classic.auth`), parse, call the framework-free
modules, shape the answer. Every classic route admits a classic user over HTTP Basic, or a bearer
token holding the permission :data:`credgate.core.paths.PROTECTED` lists for its path
(``nql``, ``engines``, ``audit-trail``).

``GET|POST /2/query`` takes, in the query string or (POST) a form body: ``query`` (NXQL, see
:mod:`credgate.classic.nxql`), ``platform`` (windows, mac_os, mobile; may repeat; keeps devices
whose ``platform`` field is one of them), ``format`` (csv, the default, json, xml, html), ``hr``
(human-readable values) and ``p1``, ``p2``, ... for ``%1``, ``%2``, ... At most 100,000 rows are
answered; when rows were cut off the answer carries ``X-Truncated: true``.

The audit-trail routes take ``from``/``to`` (ISO 8601) and ``offset``/``limit`` (1 to 1000,
default 100), answer a JSON array oldest first, and give the number of matching entries in
``X-Total-Count``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

from credgate.classic.audit_trail import AuditQuery, parse_instant, read_audit_trail
from credgate.classic.auth import ClassicAuthenticator, ClassicAuthError, ClassicPrincipal
from credgate.classic.engines import EngineService
from credgate.classic.inventory import InventorySource
from credgate.classic.nxql import NxqlSyntaxError, parse_nxql
from credgate.classic.nxql_output import FORMATS, MEDIA_TYPES, OutputFormat, render
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.errors import FieldError, InvalidInputError
from credgate.core.paths import PROTECTED
from credgate.core.services import provided
from credgate.platform.interfaces import (
    ParameterError,
    QueryDefinitionError,
    QueryExecutionError,
    Result,
)
from credgate.web.api import ApiError, AppSettings, client_address

__all__ = ["PLATFORMS", "NxqlAnswer", "check_paths", "classic_caller", "router", "run_nxql"]

router = APIRouter(tags=["Classic APIs"])

Authenticator = Annotated[ClassicAuthenticator, Depends(provided(ClassicAuthenticator))]
_inventory = provided(InventorySource)  # type: ignore[type-abstract]
Inventory = Annotated[InventorySource, Depends(_inventory)]
Engines = Annotated[EngineService, Depends(provided(EngineService))]
Db = Annotated[Database, Depends(provided(Database))]

PLATFORMS = ("windows", "mac_os", "mobile")
MAX_ROWS = 100_000
_TRUE = frozenset({"true", "1", "yes", "on"})


async def _classic_caller(
    request: Request, authenticator: Authenticator, settings: AppSettings
) -> ClassicPrincipal:
    """A classic user over Basic, or a token holding the permission :data:`PROTECTED` lists for
    this route."""
    return await classic_caller(request, authenticator, settings, request.scope["route"].path)


ClassicCaller = Annotated[ClassicPrincipal, Depends(_classic_caller)]


def check_paths() -> None:
    """Stop the application, not a request, when a classic route is missing from the table."""
    for route in router.routes:
        if isinstance(route, APIRoute) and any(
            d.call is _classic_caller for d in route.dependant.dependencies
        ):
            PROTECTED.permission_of(route.path)


# NXQL -------------------------------------------------------------------------------------------


async def _nxql_parameters(request: Request) -> list[tuple[str, str]]:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        body = await request.body()  # at most CREDGATE_MAX_BODY_BYTES (credgate.core.ingress)
        if body:
            if media != "application/x-www-form-urlencoded":
                raise InvalidInputError(
                    [FieldError("body", "send the parameters as application/x-www-form-urlencoded")]
                )
            try:
                pairs.extend(parse_qsl(body.decode("utf-8"), keep_blank_values=False))
            except (UnicodeDecodeError, ValueError):
                raise InvalidInputError([FieldError("body", "is not a valid form")]) from None
    return pairs


def _single(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    if len(values) > 1:
        raise InvalidInputError([FieldError(name, "is repeated")])
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class NxqlAnswer:
    """A query's rows and how they were asked for."""

    result: Result
    table: str
    fmt: OutputFormat
    hr: bool

    def body(self) -> str:
        return render(self.result, self.fmt, table=self.table, hr=self.hr)


async def run_nxql(pairs: list[tuple[str, str]], inventory: InventorySource) -> NxqlAnswer:
    """Run an NXQL request given as its parameters (``query``, ``platform``, ``format``, ``hr``,
    ``p1``...): what ``/2/query`` answers, and what the NXQL editor shows. Raises
    :class:`InvalidInputError` naming the parameter at fault."""
    text = _single(pairs, "query")
    if not text or not text.strip():
        raise InvalidInputError([FieldError("query", "is required")])
    fmt = (_single(pairs, "format") or "csv").lower()
    if fmt not in FORMATS:
        raise InvalidInputError(
            [FieldError("format", f"{fmt!r} is not one of: {', '.join(FORMATS)}")]
        )
    hr = (_single(pairs, "hr") or "false").lower() in _TRUE
    platforms = {v for k, v in pairs if k == "platform"}
    bad = sorted(platforms - set(PLATFORMS))
    if bad:
        raise InvalidInputError(
            [FieldError("platform", f"{bad[0]!r} is not one of: {', '.join(PLATFORMS)}")]
        )
    parameters = {k: v for k, v in pairs if k[:1] == "p" and k[1:].isdigit()}
    try:
        query = parse_nxql(text)
    except NxqlSyntaxError as exc:
        raise InvalidInputError([FieldError("query", str(exc))]) from None
    except QueryDefinitionError as exc:
        raise InvalidInputError([FieldError("query", str(exc))]) from None
    obj = query.definition.object

    restrict = {"platform": frozenset(platforms)} if platforms and obj == "devices" else None

    def run() -> Result:
        return inventory.run_query(
            query.definition, parameters, max_rows=MAX_ROWS, restrict=restrict
        )

    try:
        result = await anyio.to_thread.run_sync(run)
    except ParameterError as exc:
        raise InvalidInputError([FieldError(exc.name, exc.reason)]) from None
    except QueryExecutionError as exc:
        raise InvalidInputError([FieldError("query", str(exc))]) from None
    return NxqlAnswer(result, query.table, fmt, hr)


async def _run_nxql(request: Request, inventory: InventorySource) -> Response:
    answer = await run_nxql(await _nxql_parameters(request), inventory)
    body = await anyio.to_thread.run_sync(answer.body)
    headers = {"Cache-Control": "no-store"}
    if answer.result.truncated:
        headers["X-Truncated"] = "true"
    return Response(body, media_type=MEDIA_TYPES[answer.fmt], headers=headers)


async def classic_caller(
    request: Request, authenticator: ClassicAuthenticator, settings: Settings, path: str
) -> ClassicPrincipal:
    """The caller of a classic page that acts as the route ``path`` does (its permission)."""
    permission = PROTECTED.permission_of(path)
    address = client_address(request, settings.trusted_proxies)
    try:
        return await authenticator.authenticate(
            request.headers.get("authorization"), address, permission
        )
    except ClassicAuthError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.headers) from None


@router.get("/2/query", summary="NXQL query (classic)")
async def nxql_get(request: Request, inventory: Inventory, _caller: ClassicCaller) -> Response:
    return await _run_nxql(request, inventory)


@router.post("/2/query", summary="NXQL query (classic), parameters in a form body")
async def nxql_post(request: Request, inventory: Inventory, _caller: ClassicCaller) -> Response:
    return await _run_nxql(request, inventory)


# Engines ----------------------------------------------------------------------------------------


@router.get("/api/configuration/v1/engines", summary="The engines (classic)")
def list_engines(engines: Engines, _caller: ClassicCaller) -> list[dict[str, Any]]:
    return [e.as_wire() for e in engines.list()]


# Audit trail ------------------------------------------------------------------------------------

Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]


class _AuditPage:
    """The query of every audit-trail API: ``from`` (inclusive), ``to`` (exclusive), the page."""

    def __init__(
        self,
        since: Annotated[str | None, Query(alias="from")] = None,
        until: Annotated[str | None, Query(alias="to")] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> None:
        self.since, self.until, self.offset, self.limit = since, until, offset, limit


AuditPage = Annotated[_AuditPage, Depends()]


def _audit(
    db: Database,
    response: Response,
    scope: Literal["portal", "engines", "engine"],
    engine: str | None,
    asked: _AuditPage,
) -> list[dict[str, Any]]:
    page = read_audit_trail(
        db,
        AuditQuery(
            scope=scope,
            engine=engine,
            since=parse_instant("from", asked.since),
            until=parse_instant("to", asked.until),
            offset=asked.offset,
            limit=asked.limit,
        ),
    )
    response.headers["X-Total-Count"] = str(page.total)
    return page.items


@router.get("/audit-trail/api/v1/portal/type/auditlog", summary="Audit trail of the portal")
def audit_portal(
    db: Db, response: Response, _caller: ClassicCaller, asked: AuditPage
) -> list[dict[str, Any]]:
    return _audit(db, response, "portal", None, asked)


@router.get("/audit-trail/api/v1/engines/type/auditlog", summary="Audit trail of all engines")
def audit_engines(
    db: Db, response: Response, _caller: ClassicCaller, asked: AuditPage
) -> list[dict[str, Any]]:
    return _audit(db, response, "engines", None, asked)


@router.get(
    "/audit-trail/api/v1/engine/{engine}/type/auditlog", summary="Audit trail of one engine"
)
def audit_engine(
    engine: str, db: Db, response: Response, _caller: ClassicCaller, asked: AuditPage
) -> list[dict[str, Any]]:
    return _audit(db, response, "engine", engine, asked)
