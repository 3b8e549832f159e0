"""``credgate platform ...``: manage definitions and list the requests the APIs received."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from credgate.core.audit.services import Actor
from credgate.platform.api import PATHS
from credgate.platform.definitions import Kind
from credgate.platform.services import KIND_NAMES

__all__ = ["platform_app"]

platform_app = typer.Typer(
    help="Platform API definitions (workflows, remote actions, campaigns, queries, enrichment "
    "fields) and received requests.",
    no_args_is_help=True,
)

CollectionArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(PATHS)}.")]
DataOpt = Annotated[
    str | None, typer.Option("--data", help="The definition as a JSON object, or @file.json.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _kind(collection: str) -> Kind:
    from credgate.cli import fail

    if collection not in PATHS:
        fail(f"{collection!r} is not a collection; use one of {', '.join(PATHS)}")
    return PATHS[collection]


def _data(raw: str | None) -> dict[str, Any]:
    from credgate.cli import fail

    if not raw:
        fail("--data: give the definition as a JSON object or @file.json")
    text = raw
    if raw.startswith("@"):
        try:
            text = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"--data: cannot read {raw[1:]!r} ({exc.strerror})")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--data: not valid JSON (line {exc.lineno}, column {exc.colno})")
    except RecursionError:
        fail("--data: nested too deeply")
    if not isinstance(value, dict):
        fail("--data: must be a JSON object")
    return value


def _print(data: Any, as_json: bool) -> None:
    from credgate.cli import emit

    def render(value: Any) -> None:
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            name = row.get("name") or row.get("description") or ""
            state = "api" if row.get("apiEnabled", row.get("kind") == "workflow") else ""
            typer.echo(f"  {row['id']}  {name}  {row.get('uuid', '')}  {state}".rstrip())

    emit(data, as_json, render)


@platform_app.command("list")
def list_definitions(collection: CollectionArg, as_json: JsonOpt = False) -> None:
    """List the definitions of one collection."""
    from credgate.cli import container_for_cli

    kind = _kind(collection)
    with container_for_cli() as rt:
        _print([d.as_dict() for d in rt.definitions.list(kind)], as_json)


@platform_app.command("show")
def show_definition(collection: CollectionArg, key: str, as_json: JsonOpt = False) -> None:
    """Show one definition."""
    from credgate.cli import container_for_cli

    kind = _kind(collection)
    with container_for_cli() as rt:
        _print(rt.definitions.get(kind, key).as_dict(), as_json)


@platform_app.command("create")
def create_definition(
    collection: CollectionArg, data: DataOpt = None, as_json: JsonOpt = False
) -> None:
    """Create a definition from its JSON fields."""
    from credgate.cli import container_for_cli

    kind = _kind(collection)
    fields = _data(data)
    with container_for_cli() as rt:
        _print(rt.definitions.create(kind, fields, actor=Actor.cli()).as_dict(), as_json)


@platform_app.command("update")
def update_definition(
    collection: CollectionArg, key: str, data: DataOpt = None, as_json: JsonOpt = False
) -> None:
    """Change some fields of a definition."""
    from credgate.cli import container_for_cli

    kind = _kind(collection)
    fields = _data(data)
    with container_for_cli() as rt:
        _print(rt.definitions.update(kind, key, fields, actor=Actor.cli()).as_dict(), as_json)


@platform_app.command("delete")
def delete_definition(collection: CollectionArg, key: str) -> None:
    """Delete a definition."""
    from credgate.cli import container_for_cli

    kind = _kind(collection)
    with container_for_cli() as rt:
        rt.definitions.delete(kind, key, actor=Actor.cli())
        typer.echo(f"deleted {collection} {key}")


@platform_app.command("requests")
def list_requests(
    kind: Annotated[
        str | None, typer.Option(help=f"Only this kind: {', '.join(KIND_NAMES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the requests the platform APIs received, newest first."""
    from credgate.cli import container_for_cli, emit, fail

    if kind is not None and kind not in KIND_NAMES:
        fail(f"--kind: {kind!r} is not one of {', '.join(KIND_NAMES)}")
    with container_for_cli() as rt:
        items = [r.as_dict() for r in rt.platform.list_requests(kind, limit=limit)]

        def render(rows: list[dict[str, Any]]) -> None:
            typer.echo(f"{len(rows)} request(s)")
            for row in rows:
                typer.echo(
                    f"  {row['createdAt']}  {row['kind']}  {row['state']}  {row['id']}  "
                    f"client={row['clientId']}  {row['target']}".rstrip()
                )

        emit(items, as_json, render)
