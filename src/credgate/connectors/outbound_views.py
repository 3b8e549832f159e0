"""HTTP edges of the outbound container: test connection, start a consent, and its callback.

* ``POST /admin/api/v1/connector-credentials/{id}/test``: the verdict, also recorded as the
  credential's last test.
* ``POST /admin/api/v1/connector-credentials/{id}/connect``: ``{"authorization_url"}`` to send
  the administrator's browser to (OAuth 2.0 authorization code credentials).
* ``GET /oauth2/callback/{id}``: the credential's redirect URL (RFC 6749 §3.1.2). It needs no
  admin session: the single-use ``state`` ties it to the consent that was started. It answers a
  small HTML page, "Connected", or a 400 page that says what went wrong.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from credgate.connectors.connections import ConsentFailed
from credgate.web.api import ContainerDep, CurrentAdmin

__all__ = ["router"]

router = APIRouter(tags=["Connector credentials"])

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the callback URL carries the code
    "Content-Security-Policy": "default-src 'none'",
}


def _page(title: str, message: str, status_code: int) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status_code, headers=_PAGE_HEADERS)


@router.post(
    "/admin/api/v1/connector-credentials/{credential_id}/test",
    summary="Test a connector credential: reach the tool and authenticate (recorded)",
)
async def test_credential(
    credential_id: str,
    container: ContainerDep,
    _admin: CurrentAdmin,  # noqa: PT019 - a FastAPI dependency, not a pytest fixture
) -> dict[str, Any]:
    verdict = await container.connections.test(credential_id)
    return {"ok": verdict.ok, "code": verdict.code, "detail": verdict.detail}


@router.post(
    "/admin/api/v1/connector-credentials/{credential_id}/connect",
    summary="Start the OAuth 2.0 consent of an authorization code credential",
)
def connect_credential(
    credential_id: str, container: ContainerDep, _admin: CurrentAdmin
) -> dict[str, str]:
    return {"authorization_url": container.connections.start_consent(credential_id)}


@router.get(
    "/oauth2/callback/{credential_id}",
    summary="Where the provider sends the administrator back after consent",
    response_class=HTMLResponse,
)
async def consent_callback(credential_id: str, request: Request, container: ContainerDep) -> Any:
    params = dict(request.query_params.items())
    try:
        await container.connections.finish_consent(credential_id, params)
    except ConsentFailed as exc:
        return _page("Not connected", str(exc), exc.status_code)
    return _page("Connected", "credgate can now use this connector credential.", 200)
