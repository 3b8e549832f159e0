"""Admin REST API for connector records (the minimal record webhooks and exporters build on)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from credgate.web.api import ContainerDep, CurrentAdmin, admin_actor

router = APIRouter(prefix="/admin/api/v1", tags=["Connectors"])


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["webhook", "exporter"]
    credential_id: Annotated[str, Field(min_length=1, max_length=36)]


@router.post("/connectors", status_code=201, summary="Create a connector record")
def create_connector(
    body: ConnectorIn, request: Request, container: ContainerDep, admin: CurrentAdmin
) -> dict[str, Any]:
    return container.connectors.create(
        name=body.name,
        kind=body.kind,
        credential_id=body.credential_id,
        actor=admin_actor(request, container, admin),
    ).as_dict()


@router.get("/connectors", summary="List connectors and whether their credential exists")
def list_connectors(container: ContainerDep, _admin: CurrentAdmin) -> dict[str, Any]:
    items = [c.as_dict() for c in container.connectors.list()]
    return {"total": len(items), "items": items}


@router.get("/connectors/{connector_id}", summary="Show a connector")
def get_connector(
    connector_id: str, container: ContainerDep, _admin: CurrentAdmin
) -> dict[str, Any]:
    return container.connectors.get(connector_id).as_dict()


@router.delete("/connectors/{connector_id}", status_code=204, summary="Delete a connector")
def delete_connector(
    connector_id: str, request: Request, container: ContainerDep, admin: CurrentAdmin
) -> Response:
    container.connectors.delete(connector_id, actor=admin_actor(request, container, admin))
    return Response(status_code=204)
