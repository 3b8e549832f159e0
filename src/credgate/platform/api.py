"""Admin REST API for platform definitions and the requests the platform APIs received."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Query, Request, Response

from credgate.core.errors import NotFoundError
from credgate.platform.definitions import Kind
from credgate.platform.services import KIND_NAMES
from credgate.web.api import ContainerDep, CurrentAdmin, admin_actor

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1/platform", tags=["Platform definitions"])

PATHS: Final[dict[str, Kind]] = {
    "workflows": "workflow",
    "remote-actions": "remote_action",
    "campaigns": "campaign",
    "queries": "query",
    "enrichment-fields": "enrichment_field",
}


def _kind(collection: str) -> Kind:
    kind = PATHS.get(collection)
    if kind is None:
        raise NotFoundError(f"no definitions called {collection!r}; use one of {', '.join(PATHS)}")
    return kind


DefinitionBody = Annotated[dict[str, Any], Body(description="The definition's fields.")]


@router.get("/requests", summary="Requests received by the platform APIs")
def list_requests(
    container: ContainerDep,
    _admin: CurrentAdmin,
    kind: Annotated[str | None, Query(description=f"One of {', '.join(KIND_NAMES)}")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if kind is not None and kind not in KIND_NAMES:
        raise NotFoundError(f"no request kind {kind!r}; use one of {', '.join(KIND_NAMES)}")
    items = [r.as_dict() for r in container.platform.list_requests(kind, limit=limit)]
    return {"total": len(items), "items": items}


@router.get("/requests/{request_id}", summary="One request")
def get_request(request_id: str, container: ContainerDep, _admin: CurrentAdmin) -> dict[str, Any]:
    found = container.platform.get_request(request_id)
    if found is None:
        raise NotFoundError(f"no request {request_id!r}")
    return found.as_dict()


@router.get("/{collection}", summary="List definitions")
def list_definitions(
    collection: str, container: ContainerDep, _admin: CurrentAdmin
) -> dict[str, Any]:
    items = [d.as_dict() for d in container.definitions.list(_kind(collection))]
    return {"total": len(items), "items": items}


@router.post("/{collection}", status_code=201, summary="Create a definition")
def create_definition(
    collection: str,
    body: DefinitionBody,
    request: Request,
    container: ContainerDep,
    admin: CurrentAdmin,
) -> dict[str, Any]:
    actor = admin_actor(request, container, admin)
    return container.definitions.create(_kind(collection), body, actor=actor).as_dict()


@router.get("/{collection}/{key:path}", summary="Show a definition")
def get_definition(
    collection: str, key: str, container: ContainerDep, _admin: CurrentAdmin
) -> dict[str, Any]:
    return container.definitions.get(_kind(collection), key).as_dict()


@router.patch("/{collection}/{key:path}", summary="Change a definition's fields")
def update_definition(
    collection: str,
    key: str,
    body: DefinitionBody,
    request: Request,
    container: ContainerDep,
    admin: CurrentAdmin,
) -> dict[str, Any]:
    actor = admin_actor(request, container, admin)
    return container.definitions.update(_kind(collection), key, body, actor=actor).as_dict()


@router.delete("/{collection}/{key:path}", status_code=204, summary="Delete a definition")
def delete_definition(
    collection: str, key: str, request: Request, container: ContainerDep, admin: CurrentAdmin
) -> Response:
    container.definitions.delete(
        _kind(collection), key, actor=admin_actor(request, container, admin)
    )
    return Response(status_code=204)
