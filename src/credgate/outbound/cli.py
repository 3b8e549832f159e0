"""``credgate webhooks|deliveries|exporters ...``: outbound requests and scheduled exports.

``credgate worker``, which runs the deliveries and exports, is a process of the whole
installation and lives with ``serve`` in the entry points."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credgate.core.cli import (
    DataAliasOpt,
    FileOpt,
    JsonOpt,
    admin_api,
    cli_actor,
    emit,
    emit_table,
    json_object,
    local_fallback_note,
    open_services,
    settings_or_exit,
    sub_app,
    using,
)
from credgate.core.cli_lists import filtered_list_command, service_list_command

if TYPE_CHECKING:
    from credgate.core.paging import Page, PageRequest
    from credgate.outbound.exporters import ExporterService
    from credgate.outbound.webhooks import WebhookService
    from credgate.outbound.worker import OutboundWorker

__all__ = ["deliveries_app", "exporters_app", "webhooks_app"]

webhooks_app = sub_app("Webhooks: requests sent on platform events.")
deliveries_app = sub_app("The webhook delivery log; replay failed deliveries.")
exporters_app = sub_app("Data exporters: saved queries sent on a schedule.")

RefArg = Annotated[str, typer.Argument(metavar="REF", help="Id or name.")]


def _fields(data: Any) -> None:
    """One ``key: value`` line per field, nested values as compact JSON."""
    import json

    width = max((len(k) for k in data), default=0) + 1
    for key, value in data.items():
        shown = json.dumps(value, default=str) if isinstance(value, (dict, list)) else value
        typer.echo(f"{key + ':':<{width}} {'-' if shown is None else shown}")


def _webhook_service() -> type[WebhookService]:
    from credgate.outbound.webhooks import WebhookService

    return WebhookService


def _exporter_service() -> type[ExporterService]:
    from credgate.outbound.exporters import ExporterService

    return ExporterService


def _worker() -> type[OutboundWorker]:
    from credgate.outbound.worker import OutboundWorker

    return OutboundWorker


service_list_command(
    webhooks_app,
    _webhook_service,
    lambda webhooks: webhooks.page,
    dict,
    [
        ("id", "id"),
        ("name", "name"),
        ("request", lambda w: f"{w['method']} {w['resource']}"),
        ("state", lambda w: "enabled" if w["enabled"] else f"disabled ({w['disabled_reason']})"),
    ],
    noun="webhook(s)",
    help="List webhooks by name, a page at a time (or --all).",
)


@webhooks_app.command("create")
def webhooks_create(
    file: FileOpt = None, data: DataAliasOpt = None, as_json: JsonOpt = False
) -> None:
    """Create a webhook from a JSON object (a generated signing secret is printed once)."""
    body = json_object(file, data)
    with using(_webhook_service()) as webhooks:
        view, secret = webhooks.create(body, actor=cli_actor())
    emit(view if secret is None else {**view, "signing_secret": secret}, as_json, _fields)


@webhooks_app.command("update")
def webhooks_update(
    ref: RefArg, file: FileOpt = None, data: DataAliasOpt = None, as_json: JsonOpt = False
) -> None:
    """Replace a webhook's definition (id or name) with a JSON object of all its fields.

    "signing_secret" absent or null keeps the stored secret, "" removes it, "generate" makes a
    new one (printed once).
    """
    body = json_object(file, data)
    with using(_webhook_service()) as webhooks:
        view, secret = webhooks.update(ref, body, actor=cli_actor())
    emit(view if secret is None else {**view, "signing_secret": secret}, as_json, _fields)


@webhooks_app.command("show")
def webhooks_show(ref: RefArg, as_json: JsonOpt = False) -> None:
    """Show a webhook."""
    with using(_webhook_service()) as webhooks:
        emit(webhooks.get(ref), as_json, _fields)


@webhooks_app.command("delete")
def webhooks_delete(ref: RefArg) -> None:
    """Delete a webhook and its deliveries."""
    with using(_webhook_service()) as webhooks:
        webhooks.delete(ref, actor=cli_actor())
    typer.echo(f"deleted webhook {ref}")


@webhooks_app.command("send")
def webhooks_send(
    ref: RefArg, file: FileOpt = None, data: DataAliasOpt = None, as_json: JsonOpt = False
) -> None:
    """Queue an explicit send with a JSON payload (--file; default: an empty object)."""
    payload = json_object(file, data, required=False) or {}
    with using(_webhook_service()) as webhooks:
        message_id = webhooks.send(ref, payload, actor=cli_actor())
    emit({"id": message_id, "state": "pending"}, as_json, lambda d: typer.echo(d["id"]))


@webhooks_app.command("test")
def webhooks_test(
    ref: RefArg,
    event: Annotated[str, typer.Option(help="The event type whose sample data is sent.")] = (
        "explicit"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Send one request now with an event type's sample data. Exit 1 when it is not delivered.

    With CREDGATE_ADMIN_API_URL set, the running server sends it (its network and CA bundle).
    """
    result = admin_api(settings_or_exit(), "POST", f"/webhooks/{ref}/test", event=event)
    if result is None:
        local_fallback_note("sending the test")
        import asyncio

        with using(_worker()) as worker:
            result = asyncio.run(worker.test_send(ref, event))
    emit(result, as_json, _fields)
    if result.get("outcome") != "delivered":
        raise typer.Exit(1)


@filtered_list_command(
    deliveries_app,
    _webhook_service,
    dict,
    [
        ("id", "id"),
        ("event", "event_type"),
        ("state", "state"),
        ("attempts", "attempts"),
        ("last error", "last_error"),
    ],
    noun="delivery(ies)",
    help="The delivery log, newest first, a page at a time (or --all).",
)
def deliveries_list(
    webhooks: WebhookService,
    webhook: Annotated[str | None, typer.Option(help="A webhook id or name.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, delivered or failed.")] = None,
) -> Callable[[PageRequest], Page[dict[str, Any]]]:
    return lambda wanted: webhooks.deliveries_page(wanted, webhook=webhook, state=state)


@deliveries_app.command("show")
def deliveries_show(
    delivery_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """One delivery with every attempt."""
    with using(_webhook_service()) as webhooks:
        emit(webhooks.delivery(delivery_id), as_json, _fields)


@deliveries_app.command("replay")
def deliveries_replay(
    delivery_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """Queue a failed delivery again (same webhook-id)."""
    with using(_webhook_service()) as webhooks:
        emit(webhooks.replay(delivery_id, actor=cli_actor()), as_json, _fields)


service_list_command(
    exporters_app,
    _exporter_service,
    lambda exporters: exporters.page,
    dict,
    [
        ("id", "id"),
        ("name", "name"),
        ("schedule", "schedule"),
        ("enabled", "enabled"),
        ("next run", "next_run_at"),
    ],
    noun="exporter(s)",
    help="List data exporters by name, a page at a time (or --all).",
)


@exporters_app.command("create")
def exporters_create(
    file: FileOpt = None, data: DataAliasOpt = None, as_json: JsonOpt = False
) -> None:
    """Create a data exporter from a JSON object."""
    body = json_object(file, data)
    with using(_exporter_service()) as exporters:
        emit(exporters.create(body, actor=cli_actor()), as_json, _fields)


@exporters_app.command("update")
def exporters_update(
    ref: RefArg, file: FileOpt = None, data: DataAliasOpt = None, as_json: JsonOpt = False
) -> None:
    """Replace a data exporter's definition (id or name) with a JSON object of all its fields."""
    body = json_object(file, data)
    with using(_exporter_service()) as exporters:
        emit(exporters.update(ref, body, actor=cli_actor()), as_json, _fields)


@exporters_app.command("run")
def exporters_run(ref: RefArg, as_json: JsonOpt = False) -> None:
    """Run an exporter now and print the run. Exit 1 when the run fails.

    With CREDGATE_ADMIN_API_URL set, the running server runs it (its network and CA bundle).
    """
    result = admin_api(settings_or_exit(), "POST", f"/exporters/{ref}/run")
    if result is None:
        local_fallback_note("running the export")
        import asyncio

        with open_services() as services:
            exporter_id = services.get(_exporter_service()).get(ref)["id"]
            result = asyncio.run(services.get(_worker()).run_export(exporter_id, "manual"))
    emit(result, as_json, _fields)
    if result.get("state") == "failed":
        raise typer.Exit(1)


@exporters_app.command("runs")
def exporters_runs(ref: RefArg, as_json: JsonOpt = False) -> None:
    """The history of an exporter's runs."""
    with using(_exporter_service()) as exporters:
        items = exporters.runs(ref)
    emit_table(
        items,
        as_json,
        [
            ("id", "id"),
            ("started", "started_at"),
            ("state", "state"),
            ("rows", "rows"),
            ("error", "error"),
        ],
    )
