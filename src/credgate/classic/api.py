"""Admin REST API of the engines registry. Thin: parse, call the service, shape the answer.

The classic APIs that read the registry are in :mod:`credgate.classic.routes`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from credgate.classic.engines import EngineService
from credgate.core.services import provided
from credgate.web.api import AdminActor, CurrentAdmin

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1", tags=["Engines registry"])

Engines = Annotated[EngineService, Depends(provided(EngineService))]


class EngineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    database_uid: Annotated[str, Field(max_length=100)] = ""
    machine_id: Annotated[str, Field(max_length=100)] = ""
    description: Annotated[str, Field(max_length=2000)] = ""
    status: Literal["CONNECTED", "DISCONNECTED", "CONNECTING"] = "CONNECTED"
    address: Annotated[str, Field(max_length=255)] = ""
    port: Annotated[int, Field(ge=1, le=65535)] = 999
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    version: Annotated[str, Field(max_length=50)] = ""


@router.get("/engines", summary="List the engines registry")
def admin_list_engines(engines: Engines, _admin: CurrentAdmin) -> dict[str, Any]:
    items = [e.as_wire() for e in engines.list()]
    return {"total": len(items), "items": items}


@router.post("/engines", status_code=201, summary="Add an engine")
def admin_add_engine(body: EngineIn, engines: Engines, actor: AdminActor) -> dict[str, Any]:
    values = body.model_dump()
    name = values.pop("name")
    return engines.add(name, actor=actor, **values).as_wire()


@router.delete("/engines/{name}", status_code=204, summary="Remove an engine")
def admin_delete_engine(name: str, engines: Engines, actor: AdminActor) -> Response:
    engines.delete(name, actor=actor)
    return Response(status_code=204)
