"""A live credgate for the contract suite, seeded with definitions of every kind, and the
platform's published OpenAPI documents it is checked against."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import schemathesis
from schemathesis.hooks import unregister

from credgate.app import create_app
from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.db import Database
from credgate.core.permissions import CATALOGUE
from credgate.platform.definitions import Kind
from credgate.platform.schemas.enrichment import parse_fields
from credgate.testing import SAMPLE_DEFINITIONS
from support import LiveServer, free_port, make_key_material, make_settings

_ROOT: Final = Path(__file__).resolve().parents[3]
_SHARED: Final = Path("shared", "reference", "nexthink-openapi")


def _documents_folder() -> Path:
    """The published documents live next to the checkout (``../shared``), never copied into it;
    from a linked git worktree, next to its main checkout."""
    candidates = [_ROOT / ".." / _SHARED]
    git = _ROOT / ".git"
    if git.is_file():  # "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(git.read_text(encoding="utf-8").partition(":")[2].strip())
        candidates.append(gitdir.parents[2] / ".." / _SHARED)
    found = next((c for c in candidates if c.is_dir()), candidates[0])
    return found.resolve()


DOCUMENTS: Final = _documents_folder()

DEVICE: Final = "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11"
WORKFLOW_UUID: Final = "6f1c7c1e-54a5-4b8f-9d3e-0a2b1c3d4e5f"
EXECUTION_UUID: Final = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

#: Beyond the samples: an inactive workflow, a remote action the API may not trigger, a campaign
#: without parameters, a query without parameters, an organization field.
EXTRA_DEFINITIONS: Final[tuple[tuple[Kind, dict[str, Any]], ...]] = (
    (
        "workflow",
        {
            "id": "#inactive_flow",
            "name": "Inactive",
            "status": "INACTIVE",
            "triggerMethods": ["API"],
            "dependency": "USER",
        },
    ),
    (
        "workflow",
        {"id": "#scheduled_flow", "name": "Scheduled", "triggerMethods": ["SCHEDULER"]},
    ),
    (
        "remote_action",
        {
            "id": "#manual_only",
            "name": "Manual only",
            "origin": "NEXTHINK",
            "builtInContentVersion": "3.1.0",
            "purpose": ["REMEDIATION"],
            "targeting": {"manualEnabled": True},
            "scriptInfo": {"executionServiceDelegate": "DEFAULT", "runAs": "INTERACTIVE_USER"},
        },
    ),
    ("campaign", {"id": "#quick_poll", "name": "Quick poll"}),
    ("enrichment_field", {"id": "user/user/organization/#cost_center"}),
    (
        "query",
        {"id": "#all_devices", "object": "devices", "columns": ["name", "#os"]},
    ),
)


@dataclass(frozen=True, slots=True)
class Contract:
    """The running server and a bearer token holding every permission."""

    url: str
    token: str
    container: Container

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def credential(self, permissions: list[str]) -> tuple[str, str]:
        """A new API credential's client id and secret."""
        created = self.container.api_credentials.create(
            name=f"contract-{len(permissions)}-{id(permissions)}",
            permissions=permissions,
            actor=Actor("tests", "contract"),
        )
        return created.credential.client_id, created.client_secret

    def token_for(self, permissions: list[str]) -> str:
        """A bearer token of a new credential holding ``permissions`` only."""
        return _token(self.url, *self.credential(permissions))


def _token(url: str, client_id: str, client_secret: str) -> str:
    answer = httpx.post(
        f"{url}/oauth2/default/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def document_names() -> list[str]:
    """The published documents' file names, or none when the folder is absent."""
    if not DOCUMENTS.is_dir():
        return []
    return sorted(p.name for p in DOCUMENTS.glob("*.json"))


def load_document(name: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((DOCUMENTS / name).read_text(encoding="utf-8"))
    return raw


def _workflow_refers_to_itself(schemas: dict[str, Any]) -> None:
    # The Workflows document's ``Workflow`` gives ``triggerMethods`` (and the ``versions``
    # items) as ``Workflow`` itself: a schema no answer can meet, and a loop. Its prose and its
    # examples say what is meant: an array of trigger methods, an array of version objects.
    workflow = schemas.get("Workflow", {}).get("properties", {})
    self_ref = {"$ref": "#/components/schemas/Workflow"}
    if workflow.get("triggerMethods") == self_ref:
        workflow["triggerMethods"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/WorkflowFilter.TriggerMethod"},
        }
    if workflow.get("versions", {}).get("items") == self_ref:
        workflow["versions"] = {"type": "array", "items": {"type": "object"}}


def _array_bounds(node: object) -> None:
    # The Enrichment document bounds arrays with ``minimum``/``maximum``, which JSON Schema
    # applies to numbers only; ``minItems``/``maxItems`` is what it means.
    if isinstance(node, dict):
        if node.get("type") == "array":
            for loose, strict in (("minimum", "minItems"), ("maximum", "maxItems")):
                if loose in node:
                    node[strict] = node.pop(loose)
        for child in node.values():
            _array_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _array_bounds(child)


def _unique_operation_ids(paths: dict[str, Any]) -> None:
    # The NQL document names both execute operations ``execute``; operation ids must be unique.
    seen: set[str] = set()
    for path, item in paths.items():
        for method, operation in item.items():
            op_id = operation.get("operationId") if isinstance(operation, dict) else None
            if op_id is None:
                continue
            if op_id in seen:
                operation["operationId"] = f"{op_id} {method.upper()} {path}"
            seen.add(operation["operationId"])


def before_load_schema(context: schemathesis.HookContext, raw_schema: dict[str, Any]) -> None:
    """Read three quirks of the published documents as they are meant, in memory only."""
    _workflow_refers_to_itself(raw_schema.get("components", {}).get("schemas", {}))
    _array_bounds(raw_schema.get("components", {}))
    _unique_operation_ids(raw_schema.get("paths", {}))


@contextmanager
def quirks_handled() -> Iterator[None]:
    """Load documents with :func:`before_load_schema` in force (a global hook: removed after)."""
    schemathesis.hook(before_load_schema)
    try:
        yield
    finally:
        unregister(before_load_schema)


@cache
def load_schema(name: str) -> schemathesis.BaseSchema:
    """A published document, as schemathesis reads it, its quirks handled (read once per
    document: each of its operations is a test of its own)."""
    with quirks_handled():
        return schemathesis.openapi.from_path(str(DOCUMENTS / name))


@pytest.fixture(scope="package")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    tmp = tmp_path_factory.mktemp("contract")
    port = free_port()
    settings = make_settings(
        tmp, f"sqlite:///{tmp / 'contract.db'}", make_key_material(), port=port
    )
    db = Database(settings.resolved_database_url)
    initialise(settings, db, create_keys=False)
    db.dispose()
    container = Container.open(settings)
    actor = Actor("tests", "contract")
    for kind, data in (*SAMPLE_DEFINITIONS, *EXTRA_DEFINITIONS):
        container.definitions.create(kind, data, actor=actor)
    # Inventory: devices and users the enrichment writes, which queries then read back.
    container.platform.apply_enrichment(
        parse_fields(
            {
                "domain": "contract",
                "enrichments": [
                    {
                        "identification": [{"name": "device/device/name", "value": f"pc-{i}"}],
                        "fields": [
                            {"name": "device/device/#os", "value": "Windows 11"},
                            {"name": "device/device/#ram_gb", "value": 8 * i},
                        ],
                    }
                    for i in range(1, 4)
                ],
            }
        )
    )
    created = container.api_credentials.create(
        name="contract", permissions=[p.id for p in CATALOGUE], actor=actor
    )
    try:
        with LiveServer(create_app(container=container), port) as server:
            token = _token(server.url, created.credential.client_id, created.client_secret)
            yield Contract(server.url, token, container)
    finally:
        container.close()
