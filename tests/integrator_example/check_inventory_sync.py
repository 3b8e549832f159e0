"""The integration's tests, using only the credgate.testing fixtures and credgate.client."""

from __future__ import annotations

import pytest
from inventory_sync import devices_on, push_operating_systems

from credgate.client import LEGACY_TOKEN_PATH, Client, ClientConfig, PermissionDeniedError


def test_pushed_devices_can_be_queried(credgate_client):
    client = credgate_client(permissions=["enrichment", "nql"])
    assert push_operating_systems(client, {"pc-1": "Windows 11", "mac-1": "macOS"}) == 2
    assert devices_on(client, "Windows 11") == ["pc-1"]


def test_the_integration_needs_the_enrichment_permission(credgate_client):
    client = credgate_client(permissions=["nql"])
    with pytest.raises(PermissionDeniedError):
        push_operating_systems(client, {"pc-2": "Linux"})


def test_seeded_workflows_are_there(credgate_server, credgate_client):
    client = credgate_client(permissions=["workflows"])
    assert [w.name for w in client.list_workflows()] == ["Restart service"]
    assert credgate_server.url.startswith("http://127.0.0.1:")


def test_own_client_settings_with_a_plain_credential(credgate_server, credgate_credential):
    credential = credgate_credential(permissions=["nql"])
    config = ClientConfig(
        base_url=credgate_server.url,
        client_id=credential.client_id,
        client_secret=credential.client_secret,
        token_path=LEGACY_TOKEN_PATH,
    )
    with Client(config) as client:
        assert devices_on(client, "Plan 9") == []
    assert credential.client_secret not in repr(config)
