"""A permission taken away from an API credential closes the classic APIs to its live tokens, as
it closes the platform APIs: at once on the node that made the change, within 5 seconds on every
other node. Two nodes share one database, on both back ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from support_classic import ACTOR, credential, token

from credgate.classic.inventory import InventorySource, MemoryInventory
from credgate.container import Container
from credgate.core.config import Settings
from support import node_client

QUERY = {"query": "(select (name) (from device))"}
DEVICES = [{"name": "alpha", "platform": "windows"}]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The production default: nodes poll the change log every second.
    return {"sync_interval_seconds": 1.0}


@pytest.fixture
def other_node(settings: Settings, container: Container) -> Iterator[TestClient]:
    """A second node of the same installation: its own container, caches and sync loop."""
    node = Container.open(settings)
    node.services.provide(InventorySource, MemoryInventory({"devices": DEVICES}))
    with node_client(node, port=8081) as client:
        yield client


def test_removed_permission_closes_the_classic_apis_on_every_node(
    client: TestClient, container: Container, other_node: TestClient
) -> None:
    container.services.provide(InventorySource, MemoryInventory({"devices": DEVICES}))
    client_id, secret = credential(container, "nql", "engines")
    nxql = {"Authorization": f"Bearer {token(client, client_id, secret, 'service:nxql')}"}
    everything = {
        "Authorization": f"Bearer {token(client, client_id, secret, 'service:integration')}"
    }
    for node in (client, other_node):
        assert node.get("/2/query", params=QUERY, headers=nxql).status_code == 200
        assert node.post("/2/query", data=QUERY, headers=everything).status_code == 200
        assert node.get("/api/configuration/v1/engines", headers=everything).status_code == 200

    container.api_credentials.update(client_id, permissions=["engines"], actor=ACTOR)
    changed = time.monotonic()

    # At once where the change was made.
    for headers in (nxql, everything):
        refused = client.get("/2/query", params=QUERY, headers=headers)
        assert refused.status_code == 403, refused.text
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert 'scope="nql"' in refused.headers["www-authenticate"]
        assert refused.json()["error"] == "insufficient_scope"
    # On the other node within 5 seconds, on GET and POST alike.
    while other_node.get("/2/query", params=QUERY, headers=nxql).status_code == 200:
        assert time.monotonic() - changed < 5, "the other node still answers after 5 s"
        time.sleep(0.1)
    assert other_node.post("/2/query", data=QUERY, headers=everything).status_code == 403
    # What the credential still holds keeps working.
    for node in (client, other_node):
        assert node.get("/api/configuration/v1/engines", headers=everything).status_code == 200

    # A disabled credential's tokens get 401, on the classic APIs as on the platform APIs.
    container.api_credentials.update(client_id, disabled=True, actor=ACTOR)
    gone = client.get("/api/configuration/v1/engines", headers=everything)
    assert gone.status_code == 401
    assert 'error="invalid_token"' in gone.headers["www-authenticate"]
