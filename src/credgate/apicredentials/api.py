"""Admin REST API for API credentials. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from credgate.apicredentials.services import ApiCredentialService, CredentialView
from credgate.core.paging import Page, PageRequest
from credgate.core.permissions import CATALOGUE
from credgate.core.services import provided
from credgate.core.strict import StrictModel
from credgate.web.api import AdminActor, CurrentAdmin
from credgate.web.api_lists import page_route

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1", tags=["API credentials"])

ApiCredentials = Annotated[ApiCredentialService, Depends(provided(ApiCredentialService))]


RateLimit = Annotated[
    str | None,
    Field(
        max_length=100,
        description="This credential's limit on every API family (`60/minute`), in place of "
        "theirs; null: the families' limits.",
    ),
]


class CredentialIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = ""
    permissions: Annotated[list[str], Field(min_length=1, max_length=50)]
    rate_limit: RateLimit = None


class CredentialPatch(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    permissions: Annotated[list[str], Field(min_length=1, max_length=50)] | None = None
    disabled: bool | None = None
    rate_limit: RateLimit = None
    """``null`` removes the credential's own limit; leaving the field out keeps it."""


class RegenerateIn(StrictModel):
    overlap_seconds: Annotated[int, Field(ge=0, le=30 * 86400)] = 0


@router.get("/permissions", summary="The permission catalogue")
def list_permissions(_admin: CurrentAdmin) -> list[dict[str, str]]:
    return [{"id": p.id, "label": p.label, "description": p.description} for p in CATALOGUE]


@page_route(router, "/api-credentials", ApiCredentialService, summary="List API credentials")
def list_credentials(
    credentials: ApiCredentialService, paging: PageRequest
) -> Page[dict[str, Any]]:
    return credentials.page(paging).map(CredentialView.as_dict)


@router.post(
    "/api-credentials",
    status_code=201,
    summary="Create an API credential (the secret is shown once)",
)
def create_credential(
    body: CredentialIn, response: Response, credentials: ApiCredentials, actor: AdminActor
) -> dict[str, Any]:
    created = credentials.create(
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        rate_limit=body.rate_limit,
        actor=actor,
    )
    response.headers["Cache-Control"] = "no-store"
    return {**created.credential.as_dict(), "client_secret": created.client_secret}


@router.get("/api-credentials/{client_id}", summary="Show an API credential")
def get_credential(
    client_id: str, credentials: ApiCredentials, _admin: CurrentAdmin
) -> dict[str, Any]:
    return credentials.get(client_id).as_dict()


@router.patch(
    "/api-credentials/{client_id}",
    summary="Edit name, description, permissions, disabled or rate limit",
)
def update_credential(
    client_id: str, body: CredentialPatch, credentials: ApiCredentials, actor: AdminActor
) -> dict[str, Any]:
    return credentials.update(
        client_id,
        actor=actor,
        name=body.name,
        description=body.description,
        permissions=body.permissions,
        disabled=body.disabled,
        # An explicit null clears the limit: the service takes "" for that.
        rate_limit=""
        if "rate_limit" in body.model_fields_set and body.rate_limit is None
        else body.rate_limit,
    ).as_dict()


@router.delete("/api-credentials/{client_id}", status_code=204, summary="Delete an API credential")
def delete_credential(client_id: str, credentials: ApiCredentials, actor: AdminActor) -> Response:
    credentials.delete(client_id, actor=actor)
    return Response(status_code=204)


@router.post(
    "/api-credentials/{client_id}/regenerate",
    summary="New secret, optionally overlapping the old one",
)
def regenerate_secret(
    client_id: str,
    response: Response,
    credentials: ApiCredentials,
    actor: AdminActor,
    body: RegenerateIn | None = None,
) -> dict[str, Any]:
    overlap = dt.timedelta(seconds=(body or RegenerateIn()).overlap_seconds)
    created = credentials.regenerate(client_id, actor=actor, overlap=overlap)
    response.headers["Cache-Control"] = "no-store"
    return {**created.credential.as_dict(), "client_secret": created.client_secret}
