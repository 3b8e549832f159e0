"""Sample data for a first run: ``credgate demo load`` (or ``credgate init --demo``).

The definitions the README's examples call (the ``#restart_service`` workflow, the
``#get_disk_space`` remote action, the ``#onboarding_survey`` campaign, the ``#devices_by_os``
query and the ``#os`` and ``#ram_gb`` enrichment fields) and a small inventory of devices and
users for the queries to find. Loading is idempotent: what exists is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from credgate.core.cli import JsonOpt, emit, open_services

if TYPE_CHECKING:
    # The services are imported when the data is loaded, so that `credgate --help` (which
    # lists this command) does not load the database layer.
    from credgate.core.db import Database
    from credgate.platform.definitions import DefinitionService, Kind

__all__ = [
    "DEVICES_BY_OS",
    "SAMPLE_DEFINITIONS",
    "SAMPLE_INVENTORY",
    "DemoReport",
    "demo_app",
    "load_demo",
]

#: The saved NQL query of the README's examples: devices of one `os`, by name.
DEVICES_BY_OS: Final[Mapping[str, Any]] = {
    "id": "#devices_by_os",
    "object": "devices",
    "filters": [{"field": "#os", "op": "eq", "value": "$os"}],
    "columns": ["name", "#os", "#ram_gb"],
    "sort": [{"field": "name"}],
}

#: One API-enabled definition of each kind, for examples and tests that need something to call.
SAMPLE_DEFINITIONS: Final[tuple[tuple[Kind, Mapping[str, Any]], ...]] = (
    (
        "workflow",
        {
            "id": "#restart_service",
            "uuid": "6f1c7c1e-54a5-4b8f-9d3e-0a2b1c3d4e5f",
            "name": "Restart service",
            "description": "Restarts a Windows service",
            "triggerMethods": ["API", "MANUAL"],
            "dependency": "DEVICE",
            "versions": [{"versionNumber": 1, "isActive": True}],
        },
    ),
    (
        "remote_action",
        {
            "id": "#get_disk_space",
            "uuid": "0b7a4c1e-9f2d-4c3b-8a6e-1d2c3b4a5f60",
            "name": "Get disk space",
            "purpose": ["DATA_COLLECTION"],
            "targeting": {"apiEnabled": True, "manualEnabled": True},
            "scriptInfo": {"hasScriptWindows": True, "inputs": [{"name": "drive"}]},
        },
    ),
    (
        "campaign",
        {"id": "#onboarding_survey", "name": "Onboarding survey", "parameters": ["team"]},
    ),
    ("enrichment_field", {"id": "device/device/#os"}),
    ("enrichment_field", {"id": "device/device/#ram_gb", "type": "number"}),
    ("query", DEVICES_BY_OS),
)

#: (object, uid, name, sid, upn, fields): devices and users the sample queries find.
SAMPLE_INVENTORY: Final[
    tuple[tuple[str, str, str, str | None, str | None, Mapping[str, Any]], ...]
] = (
    ("device", "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11", "pc-1", None, None,
     {"#os": "Windows 11", "#ram_gb": 16}),
    ("device", "4c2a8e61-7b3d-4f0e-a5c9-2d8b1e6f4a02", "pc-2", None, None,
     {"#os": "Windows 11", "#ram_gb": 32}),
    ("device", "9e7f3b25-c1d4-4a6b-8e0f-5a3c2b1d7e93", "pc-3", None, None,
     {"#os": "Windows 10", "#ram_gb": 8}),
    ("device", "d3a1c5b7-2e4f-4061-9b8a-7c6e5d4f3a24", "mac-1", None, None,
     {"#os": "macOS 15", "#ram_gb": 16}),
    ("user", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c55", "Ada Lovelace", "S-1-5-21-1",
     "ada@example.com", {}),
    ("user", "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d66", "Alan Turing", "S-1-5-21-2",
     "alan@example.com", {}),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoReport:
    definitions: list[str]
    inventory: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"definitions": self.definitions, "inventory": self.inventory}


def load_demo(
    definitions: DefinitionService,
    db: Database,
    samples: Sequence[tuple[Kind, Mapping[str, Any]]] = SAMPLE_DEFINITIONS,
) -> DemoReport:
    """Create the sample definitions and inventory that do not exist yet; say what was added."""
    from sqlalchemy import select

    from credgate.core.audit.services import Actor
    from credgate.platform.models import InventoryObject

    actor = Actor(name="credgate", source="demo")
    added = []
    for kind, data in samples:
        if definitions.find(kind, str(data["id"])) is None:
            definitions.create(kind, data, actor=actor)
            added.append(f"{kind} {data['id']}")
    stocked = []
    with db.session() as session:
        rows = session.execute(select(InventoryObject.object, InventoryObject.uid))
        known = {(obj, uid) for obj, uid in rows}
        for obj, uid, name, sid, upn, fields in SAMPLE_INVENTORY:
            if (obj, uid) not in known:
                session.add(
                    InventoryObject(object=obj, uid=uid, name=name, sid=sid, upn=upn,
                                    fields=dict(fields))
                )  # fmt: skip
                stocked.append(f"{obj} {name}")
    return DemoReport(added, stocked)


demo_app = typer.Typer(help="Sample data for trying credgate out.", no_args_is_help=True)


def print_report(report: DemoReport, as_json: bool = False) -> None:
    def render(data: dict[str, Any]) -> None:
        if not data["definitions"] and not data["inventory"]:
            typer.echo("the sample data is already loaded")
        for line in data["definitions"] + data["inventory"]:
            typer.echo(f"added {line}")

    emit(report.as_dict(), as_json, render)


@demo_app.command("load")
def load(as_json: JsonOpt = False) -> None:
    """Add the sample definitions and inventory the README's examples use (idempotent)."""
    from credgate.core.db import Database
    from credgate.platform.definitions import DefinitionService

    with open_services() as services:
        report = load_demo(services.get(DefinitionService), services.get(Database))
    print_report(report, as_json)


DemoOpt = Annotated[
    bool, typer.Option("--demo", help="Also load the sample data (`credgate demo load`).")
]
