"""A small loopback server that answers the documented wire contract, for the SDK's tests.

It is a Starlette app run by uvicorn in a thread on a free 127.0.0.1 port. It implements both
token endpoints (RFC 6749 section 4.4, client_secret_basic and client_secret_post) and each API
family's documented shapes in a minimal way, and it gives tests controls that a real server does
not: a count of token requests, a record of every API request, queued responses to inject (a
401, a 429 with Retry-After, a 403 naming a scope, any error body), revocation of every issued
token, and a configurable token lifetime.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from support import ThreadServer

TOKEN_PATH = "/oauth2/default/v1/token"
LEGACY_TOKEN_PATH = "/api/v1/token"
SCOPES = {
    "service:integration",
    "remote_actions",
    "enrichment",
    "nx_dataplatform_device_deletion_api",
    "workflows",
    "campaigns",
    "nql",
    "spark",
}
_QUERY_ID = re.compile(r"^#[a-z0-9_]{2,255}$")


@dataclass(frozen=True)
class Target:
    """Where the server under test is, and a credential that holds every permission."""

    base_url: str
    client_id: str
    client_secret: str
    loopback: bool


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    peer: str = ""  # the client's address and port: one per TCP connection

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Injection:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    times: int = 1


@dataclass
class ContractState:
    client_id: str = "cg_test_client"
    client_secret: str = field(default_factory=lambda: "cgs_" + secrets.token_urlsafe(32))
    token_lifetime: int = 900
    token_requests: int = 0
    token_calls: list[Recorded] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)
    injections: list[Injection] = field(default_factory=list)
    token_injections: list[Injection] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.token_lifetime = 900
            self.token_requests = 0
            self.token_calls.clear()
            self.requests.clear()
            self.tokens.clear()
            self.issued.clear()
            self.injections.clear()
            self.token_injections.clear()

    def inject(
        self,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        times: int = 1,
        token_endpoint: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with this response instead."""
        queue = self.token_injections if token_endpoint else self.injections
        with self.lock:
            queue.append(Injection(status, body, headers or {}, path, times))

    def revoke_all(self) -> None:
        with self.lock:
            self.tokens.clear()

    def _take(self, queue: list[Injection], path: str) -> Injection | None:
        with self.lock:
            for item in queue:
                if item.path is None or item.path == path:
                    item.times -= 1
                    if item.times <= 0:
                        queue.remove(item)
                    return item
        return None


def _injected(item: Injection) -> Response:
    if item.body is None:
        return Response(status_code=item.status, headers=item.headers)
    return JSONResponse(item.body, status_code=item.status, headers=item.headers)


async def _record(request: Request) -> Recorded:
    return Recorded(
        method=request.method,
        path=request.url.path,
        query={k: request.query_params.getlist(k) for k in request.query_params},
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
        peer=f"{request.client.host}:{request.client.port}" if request.client else "",
    )


def _oauth_error(error: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    # RFC 6749 section 5.2
    return JSONResponse(
        {"error": error},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def build_app(state: ContractState) -> Starlette:
    async def token(request: Request) -> Response:
        recorded = await _record(request)
        with state.lock:
            state.token_requests += 1
            state.token_calls.append(recorded)
        injected = state._take(state.token_injections, recorded.path)
        if injected is not None:
            return _injected(injected)
        form = {k: v[0] for k, v in parse_qs(recorded.body.decode()).items()}
        basic = recorded.headers.get("authorization", "")
        creds: tuple[str, str] | None = None
        if basic.lower().startswith("basic "):
            try:
                pair = base64.b64decode(basic[6:]).decode()
            except ValueError:
                return _oauth_error("invalid_request")
            cid, _, secret = pair.partition(":")
            creds = (unquote_plus(cid), unquote_plus(secret))
            if "client_secret" in form:
                return _oauth_error("invalid_request")
        elif "client_id" in form:
            creds = (form["client_id"], form.get("client_secret", ""))
        if creds is None or not (
            hmac.compare_digest(creds[0].encode(), state.client_id.encode())
            & hmac.compare_digest(creds[1].encode(), state.client_secret.encode())
        ):
            challenge = {"WWW-Authenticate": "Basic"} if creds and basic else {}
            return _oauth_error("invalid_client", 401, challenge)
        if not form and recorded.path == LEGACY_TOKEN_PATH:
            form = {"grant_type": "client_credentials"}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type")
        scope = form.get("scope") or "service:integration"
        if not set(scope.split()) <= SCOPES:
            return _oauth_error("invalid_scope")
        value = secrets.token_urlsafe(24)
        with state.lock:
            lifetime = state.token_lifetime
            state.tokens[value] = time.monotonic() + lifetime
            state.issued.append(value)
        return JSONResponse(
            {"token_type": "Bearer", "expires_in": lifetime, "access_token": value, "scope": scope},
            headers={"Cache-Control": "no-store"},
        )

    def api(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            recorded = await _record(request)
            with state.lock:
                state.requests.append(recorded)
            injected = state._take(state.injections, recorded.path)
            if injected is not None:
                return _injected(injected)
            auth = recorded.headers.get("authorization", "")
            value = auth[7:] if auth.startswith("Bearer ") else ""
            with state.lock:
                expiry = state.tokens.get(value)
            if expiry is None or time.monotonic() >= expiry:
                return JSONResponse(
                    {"message": "invalid token"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            payload = json.loads(recorded.body) if recorded.body else None
            result: Response = await handler(request, recorded, payload)
            return result

        return endpoint

    def nql_v1_result(query_id: str) -> dict[str, Any]:
        return {
            "queryId": query_id,
            "executedQuery": "devices | list name, os",
            "rows": 2,
            "executionDateTime": {
                "year": 2024,
                "month": 5,
                "day": 6,
                "hour": 7,
                "minute": 8,
                "second": 9,
            },
            "headers": ["device.name", "device.os"],
            "data": [["pc-1", "Windows"], ["mac-2", "macOS"]],
        }

    async def nql_execute(request: Request, rec: Recorded, body: Any) -> Response:
        query_id = (body or {}).get("queryId", "")
        if not _QUERY_ID.match(query_id):
            return JSONResponse(
                {"message": "invalid queryId", "code": "INVALID_QUERY_ID", "source": "queryId"},
                status_code=400,
            )
        if query_id == "#missing":
            return JSONResponse(
                {"message": "query not found", "code": "NOT_FOUND", "source": "queryId"},
                status_code=404,
            )
        if rec.headers.get("accept") == "text/csv":
            return PlainTextResponse(
                "device.name,device.os\npc-1,Windows\nmac-2,macOS\n", media_type="text/csv"
            )
        result = nql_v1_result(query_id)
        if rec.path.startswith("/api/v2/"):
            result.pop("headers")
            result["executionDateTime"] = "2024-05-06T07:08:09Z"
            result["data"] = [
                {"device.name": "pc-1", "device.os": "Windows"},
                {"device.name": "mac-2", "device.os": "macOS"},
            ]
        return JSONResponse(result)

    async def nql_export(request: Request, rec: Recorded, body: Any) -> Response:
        return JSONResponse({"exportId": "exp-" + uuid.uuid4().hex})

    async def nql_status(request: Request, rec: Recorded, body: Any) -> Response:
        export_id = request.path_params["export_id"]
        if not export_id.startswith("exp-"):
            return JSONResponse({"message": "no such export", "code": "NOT_FOUND"}, 404)
        return JSONResponse(
            {
                "status": "COMPLETED",
                "resultsFileUrl": f"https://files.invalid/{export_id}.csv",
                "errorDescription": None,
            },
            status_code=206 if export_id.endswith("-truncated") else 200,
        )

    workflow = {
        "id": "#wf_restart",
        "uuid": "0f6ea3b2-3b0e-4a3c-9f1e-1c1b2a3d4e5f",
        "name": "Restart service",
        "description": "Restarts a service",
        "status": "ACTIVE",
        "lastUpdateTime": "2023-12-07T16:26:36Z",
        "triggerMethods": ["API", "MANUAL"],
        "versions": [{"versionNumber": 1, "isActive": True}],
    }

    async def workflows(request: Request, rec: Recorded, body: Any) -> Response:
        return JSONResponse([workflow])

    async def workflow_details(request: Request, rec: Recorded, body: Any) -> Response:
        nql_id = request.query_params.get("nqlId")
        return JSONResponse([workflow] if nql_id == workflow["id"] else [])

    async def workflow_execute(request: Request, rec: Recorded, body: Any) -> Response:
        if not body or not body.get("workflowId"):
            return JSONResponse({"code": "INVALID_REQUEST", "details": "workflowId"}, 400)
        return JSONResponse(
            {"requestUuid": str(uuid.uuid4()), "executionsUuids": [str(uuid.uuid4())]}
        )

    remote_action = {
        "id": "#ra_clear_cache",
        "uuid": "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
        "name": "Clear cache",
        "description": "Clears the browser cache",
        "origin": "custom",
        "builtInContentVersion": None,
        "purpose": ["REMEDIATION"],
        "targeting": {
            "apiEnabled": True,
            "manualEnabled": False,
            "workflowEnabled": True,
            "manualAllowMultipleDevices": False,
        },
        "scriptInfo": {
            "executionServiceDelegate": False,
            "runAs": "LOCAL_SYSTEM",
            "timeoutSeconds": 120,
            "hasScriptWindows": True,
            "hasScriptMacOs": False,
            "inputs": [{"name": "browser"}],
            "outputs": [],
        },
    }

    async def remote_actions(request: Request, rec: Recorded, body: Any) -> Response:
        return JSONResponse([remote_action])

    async def remote_action_details(request: Request, rec: Recorded, body: Any) -> Response:
        nql_id = request.query_params.get("nql-id")
        if nql_id != remote_action["id"]:
            message = f"no remote action with id {nql_id!r}"
            return JSONResponse({"code": "NOT_FOUND", "message": message}, 404)
        return JSONResponse(remote_action)

    async def remote_action_execute(request: Request, rec: Recorded, body: Any) -> Response:
        if not body or not body.get("devices"):
            return JSONResponse({"code": "INVALID_DEVICES", "message": "devices is required"}, 400)
        return JSONResponse(
            {"requestId": str(uuid.uuid4()), "expiresInMinutes": body.get("expiresInMinutes", 60)}
        )

    async def enrichment(request: Request, rec: Recorded, body: Any) -> Response:
        items = (body or {}).get("enrichments") or []
        if not items:
            # credgate's shape: the documented 207 entries, one for the whole request.
            problem = {"message": "enrichments: must not be empty", "code": "INVALID_REQUEST"}
            return JSONResponse(
                {"status": "error", "errors": [{"identification": [], "errors": [problem]}]},
                400,
            )
        errors = [
            {
                "identification": item["identification"],
                "errors": [{"message": "object not found", "code": "NOT_FOUND"}],
            }
            for item in items
            if item["identification"][0]["value"].startswith("unknown")
        ]
        if errors:
            return JSONResponse({"status": "partial_success", "errors": errors}, 207)
        return JSONResponse({"status": "success"})

    async def campaign(request: Request, rec: Recorded, body: Any) -> Response:
        sids = list(dict.fromkeys((body or {}).get("userSid") or []))
        if not sids:
            return JSONResponse({"code": "INVALID_REQUEST", "message": "userSid is required"}, 400)
        return JSONResponse(
            {
                "requests": [
                    {"requestId": str(uuid.uuid4()), "userSid": sid}
                    if sid.startswith("S-")
                    else {"userSid": sid, "message": "invalid SID"}
                    for sid in sids
                ]
            }
        )

    async def spark(request: Request, rec: Recorded, body: Any) -> Response:
        if not rec.headers.get("user-principal-name"):
            return JSONResponse({"message": "User-Principal-Name is required"}, 400)
        return Response(status_code=204)

    async def deletions(request: Request, rec: Recorded, body: Any) -> Response:
        devices = (body or {}).get("devices") or []
        echo = {"x-request-id": rec.headers.get("x-request-id", str(uuid.uuid4()))}
        if not devices:
            return JSONResponse({"code": "EMPTY_REQUEST", "message": "no devices"}, 400, echo)
        if len(devices) > 100:
            return JSONResponse(
                {"code": "BATCH_SIZE_EXCEEDED", "message": "at most 100"}, 400, echo
            )
        return JSONResponse(
            {
                "scheduledCount": len(devices),
                "status": "ACCEPTED",
                "devices": [{**d, "status": "SCHEDULED"} for d in devices],
            },
            202,
            echo,
        )

    async def anything(request: Request, rec: Recorded, body: Any) -> Response:
        return JSONResponse({"method": rec.method, "path": rec.path})

    routes = [
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(LEGACY_TOKEN_PATH, token, methods=["POST"]),
        Route("/api/v1/nql/execute", api(nql_execute), methods=["POST"]),
        Route("/api/v2/nql/execute", api(nql_execute), methods=["POST"]),
        Route("/api/v1/nql/export", api(nql_export), methods=["GET", "POST"]),
        Route("/api/v1/nql/status/{export_id}", api(nql_status), methods=["GET"]),
        Route("/api/v1/workflows", api(workflows), methods=["GET"]),
        Route("/api/v1/workflows/details", api(workflow_details), methods=["GET"]),
        Route("/api/v1/workflows/execute", api(workflow_execute), methods=["POST"]),
        Route("/api/v2/workflows/execute", api(workflow_execute), methods=["POST"]),
        Route("/api/v1/act/remote-action", api(remote_actions), methods=["GET"]),
        Route("/api/v1/act/remote-action/details", api(remote_action_details), methods=["GET"]),
        Route("/api/v1/act/execute", api(remote_action_execute), methods=["POST"]),
        Route("/api/v1/enrichment/data/fields", api(enrichment), methods=["POST"]),
        Route("/api/v1/euf/campaign/trigger", api(campaign), methods=["POST"]),
        Route("/api/v1/spark/handoff", api(spark), methods=["POST"]),
        Route("/api/v1/data-management/device/deletions", api(deletions), methods=["POST"]),
        Route("/api/v1/echo/{rest:path}", api(anything), methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)


class ContractServer:
    """The app on a free loopback port, served by :class:`support.ThreadServer`."""

    def __init__(self, state: ContractState | None = None) -> None:
        self.state = state or ContractState()
        self._server = ThreadServer(build_app(self.state))
        self.port = self._server.port
        self.base_url = self._server.url

    def start(self) -> ContractServer:
        self._server.__enter__()
        return self

    def stop(self) -> None:
        self._server.__exit__()
