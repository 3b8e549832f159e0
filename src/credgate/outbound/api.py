"""Admin REST API for webhooks, their deliveries and data exporters. Thin: call the services."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from credgate.core.paging import Page, PageRequest
from credgate.core.services import provided
from credgate.outbound.events import COMMON_VARIABLES, EVENT_TYPES
from credgate.outbound.exporters import ExporterService
from credgate.outbound.webhooks import WebhookService
from credgate.outbound.worker import OutboundWorker
from credgate.web.api import AdminActor, CurrentAdmin, Paging, page_answer
from credgate.web.api_lists import page_route

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1", tags=["Webhooks and exporters"])

Webhooks = Annotated[WebhookService, Depends(provided(WebhookService))]
Exporters = Annotated[ExporterService, Depends(provided(ExporterService))]
Worker = Annotated[OutboundWorker, Depends(provided(OutboundWorker))]

Json = Annotated[dict[str, Any], Body(description="A JSON object.")]


def _with_secret(view: dict[str, Any], secret: str | None, response: Response) -> dict[str, Any]:
    if secret is not None:
        response.headers["Cache-Control"] = "no-store"
        return {**view, "signing_secret": secret}
    return view


@router.get("/webhooks/events", summary="Event types that trigger webhooks, with their variables")
def list_events(_admin: CurrentAdmin) -> dict[str, Any]:
    return {
        "common_variables": list(COMMON_VARIABLES),
        "items": [
            {
                "event": e.name,
                "description": e.description,
                "payload_variables": list(e.payload_variables),
                "sample_payload": dict(e.sample_payload),
            }
            for e in EVENT_TYPES.values()
        ],
    }


@page_route(router, "/webhooks", WebhookService, summary="List webhooks")
def list_webhooks(webhooks: WebhookService, paging: PageRequest) -> Page[dict[str, Any]]:
    return webhooks.page(paging)


@router.post(
    "/webhooks", status_code=201, summary="Create a webhook (a generated secret is shown once)"
)
def create_webhook(
    body: Json, response: Response, webhooks: Webhooks, actor: AdminActor
) -> dict[str, Any]:
    view, secret = webhooks.create(body, actor=actor)
    return _with_secret(view, secret, response)


@router.get("/webhooks/{ref}", summary="Show a webhook")
def get_webhook(ref: str, webhooks: Webhooks, _admin: CurrentAdmin) -> dict[str, Any]:
    return webhooks.get(ref)


@router.put("/webhooks/{ref}", summary="Replace a webhook's fields")
def update_webhook(
    ref: str,
    body: Json,
    response: Response,
    webhooks: Webhooks,
    actor: AdminActor,
) -> dict[str, Any]:
    view, secret = webhooks.update(ref, body, actor=actor)
    return _with_secret(view, secret, response)


@router.delete("/webhooks/{ref}", status_code=204, summary="Delete a webhook and its deliveries")
def delete_webhook(ref: str, webhooks: Webhooks, actor: AdminActor) -> Response:
    webhooks.delete(ref, actor=actor)
    return Response(status_code=204)


@router.post("/webhooks/{ref}/send", status_code=202, summary="Queue an explicit send")
def send_webhook(ref: str, body: Json, webhooks: Webhooks, actor: AdminActor) -> dict[str, Any]:
    mid = webhooks.send(ref, body, actor=actor)
    return {"id": mid, "state": "pending"}


@router.post("/webhooks/{ref}/test", summary="Send one request now with sample data")
async def send_test(
    ref: str,
    worker: Worker,
    _admin: CurrentAdmin,
    event: Annotated[
        str, Query(description="The event type whose sample data is used.")
    ] = "explicit",
) -> dict[str, Any]:
    return await worker.test_send(ref, event)


@router.get("/deliveries", summary="The delivery log, newest first, a page at a time")
def list_deliveries(
    request: Request,
    paging: Paging,
    webhooks: Webhooks,
    _admin: CurrentAdmin,
    webhook: Annotated[str | None, Query(description="A webhook id or name.")] = None,
    state: Annotated[str | None, Query(description="pending, delivered or failed")] = None,
) -> dict[str, Any]:
    return page_answer(request.url, webhooks.deliveries_page(paging, webhook=webhook, state=state))


@router.get("/deliveries/{delivery_id}", summary="One delivery with every attempt")
def get_delivery(delivery_id: str, webhooks: Webhooks, _admin: CurrentAdmin) -> dict[str, Any]:
    return webhooks.delivery(delivery_id)


@router.post("/deliveries/{delivery_id}/replay", summary="Queue a finished delivery again")
def replay_delivery(delivery_id: str, webhooks: Webhooks, actor: AdminActor) -> dict[str, Any]:
    return webhooks.replay(delivery_id, actor=actor)


@page_route(router, "/exporters", ExporterService, summary="List data exporters")
def list_exporters(exporters: ExporterService, paging: PageRequest) -> Page[dict[str, Any]]:
    return exporters.page(paging)


@router.post("/exporters", status_code=201, summary="Create a data exporter")
def create_exporter(body: Json, exporters: Exporters, actor: AdminActor) -> dict[str, Any]:
    return exporters.create(body, actor=actor)


@router.get("/exporters/{ref}", summary="Show a data exporter")
def get_exporter(ref: str, exporters: Exporters, _admin: CurrentAdmin) -> dict[str, Any]:
    return exporters.get(ref)


@router.put("/exporters/{ref}", summary="Replace a data exporter's definition")
def update_exporter(
    ref: str, body: Json, exporters: Exporters, actor: AdminActor
) -> dict[str, Any]:
    return exporters.update(ref, body, actor=actor)


@router.delete("/exporters/{ref}", status_code=204, summary="Delete a data exporter and its runs")
def delete_exporter(ref: str, exporters: Exporters, actor: AdminActor) -> Response:
    exporters.delete(ref, actor=actor)
    return Response(status_code=204)


@router.post("/exporters/{ref}/run", summary="Run now; answers the run")
async def run_exporter(
    ref: str, exporters: Exporters, worker: Worker, _admin: CurrentAdmin
) -> dict[str, Any]:
    import anyio.to_thread

    view = await anyio.to_thread.run_sync(exporters.get, ref)
    return await worker.run_export(view["id"], "manual")


@router.get("/exporters/{ref}/runs", summary="History of runs, newest first")
def list_runs(ref: str, exporters: Exporters, _admin: CurrentAdmin) -> dict[str, Any]:
    items = exporters.runs(ref)
    return {"total": len(items), "items": items}
