"""Admin REST API for platform definitions and the requests the platform APIs received."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from credgate.core.errors import NotFoundError
from credgate.core.services import provided
from credgate.platform.definitions import PATHS, DefinitionService, Kind
from credgate.platform.services import KIND_NAMES, PlatformService
from credgate.web.api import AdminActor, CurrentAdmin

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1/platform", tags=["Platform definitions"])

Definitions = Annotated[DefinitionService, Depends(provided(DefinitionService))]
Platform = Annotated[PlatformService, Depends(provided(PlatformService))]


def _kind(collection: str) -> Kind:
    kind = PATHS.get(collection)
    if kind is None:
        raise NotFoundError(f"no definitions called {collection!r}; use one of {', '.join(PATHS)}")
    return kind


DefinitionBody = Annotated[dict[str, Any], Body(description="The definition's fields.")]


@router.get("/requests", summary="Requests received by the platform APIs")
def list_requests(
    platform: Platform,
    _admin: CurrentAdmin,
    kind: Annotated[str | None, Query(description=f"One of {', '.join(KIND_NAMES)}")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if kind is not None and kind not in KIND_NAMES:
        raise NotFoundError(f"no request kind {kind!r}; use one of {', '.join(KIND_NAMES)}")
    items = [r.as_dict() for r in platform.list_requests(kind, limit=limit)]
    return {"total": len(items), "items": items}


@router.get("/requests/{request_id}", summary="One request")
def get_request(request_id: str, platform: Platform, _admin: CurrentAdmin) -> dict[str, Any]:
    found = platform.get_request(request_id)
    if found is None:
        raise NotFoundError(f"no request {request_id!r}")
    return found.as_dict()


@router.get("/{collection}", summary="List definitions")
def list_definitions(
    collection: str, definitions: Definitions, _admin: CurrentAdmin
) -> dict[str, Any]:
    items = [d.as_dict() for d in definitions.list(_kind(collection))]
    return {"total": len(items), "items": items}


@router.post("/{collection}", status_code=201, summary="Create a definition")
def create_definition(
    collection: str,
    body: DefinitionBody,
    definitions: Definitions,
    actor: AdminActor,
) -> dict[str, Any]:
    return definitions.create(_kind(collection), body, actor=actor).as_dict()


@router.get("/{collection}/{key:path}", summary="Show a definition")
def get_definition(
    collection: str, key: str, definitions: Definitions, _admin: CurrentAdmin
) -> dict[str, Any]:
    return definitions.get(_kind(collection), key).as_dict()


@router.patch("/{collection}/{key:path}", summary="Change a definition's fields")
def update_definition(
    collection: str,
    key: str,
    body: DefinitionBody,
    definitions: Definitions,
    actor: AdminActor,
) -> dict[str, Any]:
    return definitions.update(_kind(collection), key, body, actor=actor).as_dict()


@router.delete("/{collection}/{key:path}", status_code=204, summary="Delete a definition")
def delete_definition(
    collection: str, key: str, definitions: Definitions, actor: AdminActor
) -> Response:
    definitions.delete(_kind(collection), key, actor=actor)
    return Response(status_code=204)
