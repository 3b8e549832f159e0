"""``credgate webhooks|deliveries|exporters ...``: outbound requests and scheduled exports.

``credgate worker``, which runs the deliveries and exports, is a process of the whole
installation and lives with ``serve`` in the entry points."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from credgate.core.audit.services import Actor
from credgate.core.cli import JsonOpt, fail, list_command, open_services
from credgate.outbound.exporters import ExporterService
from credgate.outbound.webhooks import WebhookService
from credgate.outbound.worker import OutboundWorker

__all__ = ["deliveries_app", "exporters_app", "webhooks_app"]

webhooks_app = typer.Typer(help="Webhooks: requests sent on platform events.", no_args_is_help=True)
deliveries_app = typer.Typer(
    help="The webhook delivery log; replay failed deliveries.", no_args_is_help=True
)
exporters_app = typer.Typer(
    help="Data exporters: saved queries sent on a schedule.", no_args_is_help=True
)

DataArg = Annotated[str, typer.Option("--data", help="A JSON object, or @file.json.")]


@dataclass(frozen=True, slots=True)
class _Outbound:
    webhooks: WebhookService
    exporters: ExporterService
    worker: OutboundWorker


@contextmanager
def _outbound() -> Iterator[_Outbound]:
    with open_services() as services:
        yield _Outbound(
            services.get(WebhookService),
            services.get(ExporterService),
            services.get(OutboundWorker),
        )


def _data(raw: str) -> dict[str, Any]:
    text = Path(raw[1:]).read_text() if raw.startswith("@") else raw
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"--data: not JSON: {exc}")
    if not isinstance(value, dict):
        fail("--data: must be a JSON object")
    return value


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _webhook_line(w: dict[str, Any]) -> str:
    state = "enabled" if w["enabled"] else f"disabled ({w['disabled_reason']})"
    return f"{w['id']}  {w['name']}  {w['method']} {w['resource']}  {state}"


list_command(
    webhooks_app,
    WebhookService,
    lambda webhooks: webhooks.page,
    dict,
    _webhook_line,
    noun="webhook(s)",
    help="List webhooks by name, a page at a time (or --all).",
)


@webhooks_app.command("create")
def webhooks_create(data: DataArg) -> None:
    """Create a webhook from a JSON object (a generated signing secret is printed once)."""
    with _outbound() as outbound:
        view, secret = outbound.webhooks.create(_data(data), actor=Actor.cli())
    _print(view if secret is None else {**view, "signing_secret": secret})


@webhooks_app.command("show")
def webhooks_show(ref: str) -> None:
    """Show a webhook."""
    with _outbound() as outbound:
        _print(outbound.webhooks.get(ref))


@webhooks_app.command("delete")
def webhooks_delete(ref: str) -> None:
    """Delete a webhook and its deliveries."""
    with _outbound() as outbound:
        outbound.webhooks.delete(ref, actor=Actor.cli())
    typer.echo(f"deleted webhook {ref}")


@webhooks_app.command("send")
def webhooks_send(ref: str, data: DataArg = "{}") -> None:
    """Queue an explicit send with a JSON payload."""
    with _outbound() as outbound:
        typer.echo(outbound.webhooks.send(ref, _data(data), actor=Actor.cli()))


@webhooks_app.command("test")
def webhooks_test(ref: str, event: str = "explicit") -> None:
    """Send one request now with an event type's sample data."""
    with _outbound() as outbound:
        _print(asyncio.run(outbound.worker.test_send(ref, event)))


@deliveries_app.command("list")
def deliveries_list(
    webhook: Annotated[str | None, typer.Option(help="A webhook id or name.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, delivered or failed.")] = None,
    limit: int = 100,
    as_json: JsonOpt = False,
) -> None:
    """The delivery log, newest first."""
    with _outbound() as outbound:
        items = outbound.webhooks.deliveries(webhook=webhook, state=state, limit=limit)
    if as_json:
        _print(items)
        return
    for d in items:
        typer.echo(
            f"{d['id']}  {d['event_type']}  {d['state']}  attempts={d['attempts']}  {d['last_error']}"
        )


@deliveries_app.command("show")
def deliveries_show(delivery_id: str) -> None:
    """One delivery with every attempt."""
    with _outbound() as outbound:
        _print(outbound.webhooks.delivery(delivery_id))


@deliveries_app.command("replay")
def deliveries_replay(delivery_id: str) -> None:
    """Queue a failed delivery again (same webhook-id)."""
    with _outbound() as outbound:
        _print(outbound.webhooks.replay(delivery_id, actor=Actor.cli()))


@exporters_app.command("list")
def exporters_list() -> None:
    """List data exporters."""
    with _outbound() as outbound:
        _print(outbound.exporters.list())


@exporters_app.command("create")
def exporters_create(data: DataArg) -> None:
    """Create a data exporter from a JSON object."""
    with _outbound() as outbound:
        _print(outbound.exporters.create(_data(data), actor=Actor.cli()))


@exporters_app.command("run")
def exporters_run(ref: str) -> None:
    """Run an exporter now and print the run."""
    with _outbound() as outbound:
        exporter_id = outbound.exporters.get(ref)["id"]
        _print(asyncio.run(outbound.worker.run_export(exporter_id, "manual")))


@exporters_app.command("runs")
def exporters_runs(ref: str) -> None:
    """The history of an exporter's runs."""
    with _outbound() as outbound:
        _print(outbound.exporters.runs(ref))
