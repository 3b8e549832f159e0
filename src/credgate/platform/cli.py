"""``credgate platform ...``: manage definitions and list the requests the APIs received."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credgate.core.cli import (
    Column,
    DataAliasOpt,
    FileOpt,
    JsonOpt,
    cli_actor,
    did_you_mean,
    emit_table,
    fail,
    json_object,
    open_services,
    sub_app,
    using,
)
from credgate.platform.names import KIND_NAMES, PATHS, Kind

if TYPE_CHECKING:
    from credgate.platform.definitions import DefinitionService

__all__ = ["platform_app"]

platform_app = sub_app(
    "Platform API definitions (workflows, remote actions, campaigns, queries, enrichment "
    "fields) and received requests."
)

CollectionArg = Annotated[
    str, typer.Argument(metavar="COLLECTION", help=f"One of: {', '.join(PATHS)}.")
]


def _definitions() -> AbstractContextManager[DefinitionService]:
    from credgate.platform.definitions import DefinitionService

    return using(DefinitionService)


def _kind(collection: str) -> Kind:
    if collection not in PATHS:
        fail(
            f"COLLECTION: {collection!r} is not a collection{did_you_mean(collection, PATHS)}; "
            f"use one of {', '.join(PATHS)}"
        )
    return PATHS[collection]


_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", lambda r: r.get("name") or r.get("description") or ""),
    ("uuid", lambda r: r.get("uuid", "")),
    ("api", lambda r: r.get("apiEnabled", r.get("kind") == "workflow")),
]


def _print(data: Any, as_json: bool) -> None:
    emit_table(data if as_json or isinstance(data, list) else [data], as_json, _COLUMNS)


@platform_app.command("list")
def list_definitions(collection: CollectionArg, as_json: JsonOpt = False) -> None:
    """List the definitions of one collection."""
    kind = _kind(collection)
    with _definitions() as definitions:
        _print([d.as_dict() for d in definitions.list(kind)], as_json)


@platform_app.command("show")
def show_definition(collection: CollectionArg, key: str, as_json: JsonOpt = False) -> None:
    """Show one definition."""
    kind = _kind(collection)
    with _definitions() as definitions:
        _print(definitions.get(kind, key).as_dict(), as_json)


def _save(
    collection: str, file: str | None, data: str | None, as_json: bool, key: str | None = None
) -> None:
    """Create a definition from the JSON fields of --file (or --data), or, given ``key``,
    change that definition's fields; print what was saved."""
    kind = _kind(collection)
    fields = json_object(file, data)
    actor = cli_actor()
    with _definitions() as definitions:
        if key is None:
            saved = definitions.create(kind, fields, actor=actor)
        else:
            saved = definitions.update(kind, key, fields, actor=actor)
        _print(saved.as_dict(), as_json)


@platform_app.command("create")
def create_definition(
    collection: CollectionArg,
    file: FileOpt = None,
    data: DataAliasOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a definition from its JSON fields (--file)."""
    _save(collection, file, data, as_json)


@platform_app.command("update")
def update_definition(
    collection: CollectionArg,
    key: str,
    file: FileOpt = None,
    data: DataAliasOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change some fields of a definition (--file: a JSON object of the fields)."""
    _save(collection, file, data, as_json, key=key)


@platform_app.command("delete")
def delete_definition(collection: CollectionArg, key: str) -> None:
    """Delete a definition."""
    kind = _kind(collection)
    with _definitions() as definitions:
        definitions.delete(kind, key, actor=cli_actor())
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
    if kind is not None and kind not in KIND_NAMES:
        fail(
            f"--kind: {kind!r} is not one of {', '.join(KIND_NAMES)}"
            f"{did_you_mean(kind, KIND_NAMES)}"
        )
    from credgate.platform.services import PlatformService

    with open_services() as services:
        platform = services.get(PlatformService)
        items = [r.as_dict() for r in platform.list_requests(kind, limit=limit)]
        emit_table(
            items,
            as_json,
            [
                ("created", "createdAt"),
                ("kind", "kind"),
                ("state", "state"),
                ("id", "id"),
                ("client", "clientId"),
                ("target", "target"),
            ],
        )
