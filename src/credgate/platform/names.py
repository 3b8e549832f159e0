"""The names of the platform's collections and request kinds, apart from their services, so that
the command line can offer them without loading the services (and their database layer)."""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["KINDS", "KIND_NAMES", "PATHS", "Kind"]

Kind = Literal["workflow", "remote_action", "campaign", "query", "enrichment_field"]
KINDS: Final[tuple[Kind, ...]] = (
    "workflow",
    "remote_action",
    "campaign",
    "query",
    "enrichment_field",
)
PATHS: Final[dict[str, Kind]] = {
    "workflows": "workflow",
    "remote-actions": "remote_action",
    "campaigns": "campaign",
    "queries": "query",
    "enrichment-fields": "enrichment_field",
}
"""The collections as the admin REST API and the CLI name them (``/platform/workflows``,
``credgate platform list workflows``), and the kind each holds."""

KIND_NAMES: Final = (
    "workflow_execution",
    "remote_action",
    "campaign",
    "handoff",
    "device_deletion",
    "enrichment",
    "nql_export",
)
"""The kinds of request the platform APIs record."""
