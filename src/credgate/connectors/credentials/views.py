"""Admin REST API for connector credentials. Thin: parse, call the service, shape the answer.

Bodies are handed to the service as parsed JSON: its validation reports every problem at once
(unknown fields, wrong types, bad addresses) as ``422 {"errors": [{"field", "message"}]}``.
Answers show every secret as the mask; no secret is ever sent back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from credgate.connectors.credentials.services import DEFAULT_PAGE_SIZE
from credgate.web.api import ContainerDep, CurrentAdmin, admin_actor

router = APIRouter(prefix="/admin/api/v1", tags=["Connector credentials"])

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


@router.post(
    "/connector-credentials",
    status_code=201,
    summary="Create a connector credential (secrets are masked in the answer)",
)
def create_credential(
    body: CredentialBody, request: Request, container: ContainerDep, admin: CurrentAdmin
) -> dict[str, Any]:
    created = container.connector_credentials.create(
        body, actor=admin_actor(request, container, admin)
    )
    return created.as_dict()


@router.get("/connector-credentials", summary="List connector credentials, with the total count")
def list_credentials(
    container: ContainerDep,
    _admin: CurrentAdmin,
    protocol: Annotated[str | None, Query(description="HTTPS or SFTP")] = None,
    offset: Annotated[int, Query(description="Items to skip")] = 0,
    limit: Annotated[int, Query(description="Items per page (1 to 500)")] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    return container.connector_credentials.list(
        protocol=protocol, offset=offset, limit=limit
    ).as_dict()


@router.get("/connector-credentials/{credential_id}", summary="Show a connector credential")
def get_credential(
    credential_id: str, container: ContainerDep, _admin: CurrentAdmin
) -> dict[str, Any]:
    return container.connector_credentials.get(credential_id).as_dict()


@router.put(
    "/connector-credentials/{credential_id}",
    summary="Replace a connector credential (the mask keeps a stored secret)",
)
def update_credential(
    credential_id: str,
    body: CredentialBody,
    request: Request,
    container: ContainerDep,
    admin: CurrentAdmin,
) -> dict[str, Any]:
    return container.connector_credentials.update(
        credential_id, body, actor=admin_actor(request, container, admin)
    ).as_dict()


@router.delete(
    "/connector-credentials/{credential_id}",
    status_code=204,
    summary="Delete a connector credential (its connectors then report it missing)",
)
def delete_credential(
    credential_id: str, request: Request, container: ContainerDep, admin: CurrentAdmin
) -> Response:
    container.connector_credentials.delete(
        credential_id, actor=admin_actor(request, container, admin)
    )
    return Response(status_code=204)
