"""Admin REST API for connectors: connector credentials, the connector records webhooks and
exporters build on, testing a credential, and the OAuth 2.0 consent of authorization code
credentials. Thin: parse, call the service, shape the answer.

Credential bodies are handed to the service as parsed JSON: its validation reports every problem
at once (unknown fields, wrong types, bad addresses) as ``422 {"errors": [{"field", "message"}]}``.
Answers show every secret as the mask; no secret is ever sent back.

* ``POST /admin/api/v1/connector-credentials/{id}/test``: the verdict, also recorded as the
  credential's last test.
* ``POST /admin/api/v1/connector-credentials/{id}/connect``: ``{"authorization_url"}`` to send
  the administrator's browser to (OAuth 2.0 authorization code credentials).
* ``GET /oauth2/callback/{id}``: the credential's redirect URL (RFC 6749 §3.1.2). It needs no
  admin session: the single-use ``state`` ties it to the consent that was started. It answers a
  small HTML page, "Connected", or a 400 page that says what went wrong.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field

from credgate.connectors.connections import Connections, ConsentFailed
from credgate.connectors.credentials.services import ConnectorCredentialService, CredentialView
from credgate.connectors.services import ConnectorService
from credgate.core.services import provided
from credgate.core.strict import StrictModel
from credgate.web.api import AdminActor, CurrentAdmin, Paging, page_answer
from credgate.web.pages import render

__all__ = ["router"]

router = APIRouter()


def _resource(path: str, tag: str) -> APIRouter:
    """The routes under ``/admin/api/v1/<path>``, listed under ``tag`` in the API document."""
    return APIRouter(prefix=f"/admin/api/v1/{path}", tags=[tag])


_credentials = _resource("connector-credentials", "Connector credentials")
_connectors = _resource("connectors", "Connectors")
# The tests and the consent come after the connector records in the API document.
_connections = _resource("connector-credentials", "Connector credentials")

Credentials = Annotated[ConnectorCredentialService, Depends(provided(ConnectorCredentialService))]
Connectors = Annotated[ConnectorService, Depends(provided(ConnectorService))]
ConnectionsDep = Annotated[Connections, Depends(provided(Connections))]

# Connector credentials --------------------------------------------------------------------------

_EXAMPLE = {
    "name": "ServiceNow",
    "protocol": "HTTPS",
    "url": "https://ven01063.service-now.com/",
    "authorization": {"type": "BASIC", "username": "svc-credgate", "password": "…"},
}
CredentialBody = Annotated[
    dict[str, Any],
    Body(
        description="name, protocol (HTTPS or SFTP), url and authorization (a type and its "
        "fields). On update, a secret sent back as the mask keeps the stored value.",
        examples=[_EXAMPLE],
    ),
]


@_credentials.post(
    "", status_code=201, summary="Create a connector credential (secrets are masked in the answer)"
)
def create_credential(
    body: CredentialBody, credentials: Credentials, actor: AdminActor
) -> dict[str, Any]:
    return credentials.create(body, actor=actor).as_dict()


@_credentials.get(
    "",
    summary="List connector credentials by name, a page at a time, with the total count",
    description="Pages by `cursor` (the `next_cursor` of the page before) like every admin "
    "list. The older `offset` still answers `{total, offset, limit, items}`.",
)
def list_credentials(
    request: Request,
    paging: Paging,
    credentials: Credentials,
    _admin: CurrentAdmin,
    protocol: Annotated[str | None, Query(description="HTTPS or SFTP")] = None,
    offset: Annotated[
        int | None, Query(description="Items to skip (deprecated: use `cursor`)", deprecated=True)
    ] = None,
) -> dict[str, Any]:
    if offset is not None:
        return credentials.list(protocol=protocol, offset=offset, limit=paging.limit).as_dict()
    page = credentials.page(paging, protocol=protocol)
    return page_answer(request.url, page.map(CredentialView.as_dict))


@_credentials.get("/{credential_id}", summary="Show a connector credential")
def get_credential(
    credential_id: str, credentials: Credentials, _admin: CurrentAdmin
) -> dict[str, Any]:
    return credentials.get(credential_id).as_dict()


@_credentials.put(
    "/{credential_id}", summary="Replace a connector credential (the mask keeps a stored secret)"
)
def update_credential(
    credential_id: str, body: CredentialBody, credentials: Credentials, actor: AdminActor
) -> dict[str, Any]:
    return credentials.update(credential_id, body, actor=actor).as_dict()


@_credentials.delete(
    "/{credential_id}",
    status_code=204,
    summary="Delete a connector credential (its connectors then report it missing)",
)
def delete_credential(credential_id: str, credentials: Credentials, actor: AdminActor) -> Response:
    credentials.delete(credential_id, actor=actor)
    return Response(status_code=204)


router.include_router(_credentials)


# Connector records ------------------------------------------------------------------------------


class ConnectorIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["webhook", "exporter"]
    credential_id: Annotated[str, Field(min_length=1, max_length=36)]


@_connectors.post("", status_code=201, summary="Create a connector record")
def create_connector(
    body: ConnectorIn, connectors: Connectors, actor: AdminActor
) -> dict[str, Any]:
    return connectors.create(
        name=body.name, kind=body.kind, credential_id=body.credential_id, actor=actor
    ).as_dict()


@_connectors.get("", summary="List connectors and whether their credential exists")
def list_connectors(connectors: Connectors, _admin: CurrentAdmin) -> dict[str, Any]:
    items = [c.as_dict() for c in connectors.list()]
    return {"total": len(items), "items": items}


@_connectors.get("/{connector_id}", summary="Show a connector")
def get_connector(
    connector_id: str, connectors: Connectors, _admin: CurrentAdmin
) -> dict[str, Any]:
    return connectors.get(connector_id).as_dict()


@_connectors.delete("/{connector_id}", status_code=204, summary="Delete a connector")
def delete_connector(connector_id: str, connectors: Connectors, actor: AdminActor) -> Response:
    connectors.delete(connector_id, actor=actor)
    return Response(status_code=204)


router.include_router(_connectors)


# Connection tests and consent -------------------------------------------------------------------

# The callback URL carries the code: it must not leak to the next page through Referer.
_PAGE_HEADERS = {"Referrer-Policy": "no-referrer"}


def _page(title: str, message: str, status_code: int) -> HTMLResponse:
    return render(
        "connectors/consent_result.html",
        {"title": title, "message": message, "ok": status_code == 200},
        status=status_code,
        headers=_PAGE_HEADERS,
    )


@_connections.post(
    "/{credential_id}/test",
    summary="Test a connector credential: reach the tool and authenticate (recorded)",
)
async def test_credential(
    credential_id: str,
    connections: ConnectionsDep,
    _admin: CurrentAdmin,  # noqa: PT019 - a FastAPI dependency, not a pytest fixture
) -> dict[str, Any]:
    verdict = await connections.test(credential_id)
    return {"ok": verdict.ok, "code": verdict.code, "detail": verdict.detail}


@_connections.post(
    "/{credential_id}/connect",
    summary="Start the OAuth 2.0 consent of an authorization code credential",
)
def connect_credential(
    credential_id: str, connections: ConnectionsDep, _admin: CurrentAdmin
) -> dict[str, str]:
    return {"authorization_url": connections.start_consent(credential_id)}


router.include_router(_connections)


@router.get(
    "/oauth2/callback/{credential_id}",
    summary="Where the provider sends the administrator back after consent",
    response_class=HTMLResponse,
    tags=["Connector credentials"],
)
async def consent_callback(
    credential_id: str, request: Request, connections: ConnectionsDep
) -> Any:
    params = dict(request.query_params.items())
    try:
        await connections.finish_consent(credential_id, params)
    except ConsentFailed as exc:
        return _page("Not connected", str(exc), exc.status_code)
    return _page("Connected", "credgate can now use this connector credential.", 200)
