"""Helpers for the classic API tests: users with each kind of profile, tokens, Basic headers, and
an inventory to query."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient

from credgate.classic.inventory import InventorySource, MemoryInventory
from credgate.container import Container
from credgate.core.audit.services import Actor

ACTOR = Actor("tests", "pytest")
PASSWORD = "classic password 1234"
TOKEN_URL = "/oauth2/default/v1/token"

QUERY = (
    "(select (name ram_gb) (from device) (where device (ge ram_gb (integer %1)))"
    " (order_by name asc))"
)
DEVICES = [
    {"name": "alpha", "ram_gb": 16, "platform": "windows"},
    {"name": "beta", "ram_gb": 8, "platform": "mac_os"},
    {"name": "gamma", "ram_gb": 4, "platform": "windows"},
]

# username -> (profile, data privacy, Finder access)
USERS = {
    "finder": ("analysts", "none", True),
    "partial": ("partial-privacy", "partial", True),
    "private": ("full-privacy", "full", True),
    "nofinder": ("no-finder", "none", False),
}


def add_users(container: Container, *usernames: str) -> None:
    """Add the named users of :data:`USERS` (all of them when none is named)."""
    for username in usernames or tuple(USERS):
        profile, privacy, finder = USERS[username]
        names = {p.name for p in container.users.list_profiles()}
        if profile not in names:
            container.users.create_profile(
                profile, data_privacy=privacy, finder_access=finder, actor=ACTOR
            )
        container.users.create_user(username, PASSWORD, profile=profile, actor=ACTOR)


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def credential(container: Container, *permissions: str) -> tuple[str, str]:
    created = container.api_credentials.create(
        name=f"classic {'-'.join(permissions) or 'none'}",
        permissions=list(permissions),
        actor=ACTOR,
    )
    return created.credential.client_id, created.client_secret


def token(client: TestClient, client_id: str, secret: str, scope: str) -> str:
    answer = client.post(
        TOKEN_URL,
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": scope},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == scope
    value: str = answer.json()["access_token"]
    return value


def finder_inventory(
    container: Container, client: TestClient, devices: list[dict[str, object]] = DEVICES
) -> TestClient:
    """``client`` with the ``finder`` user and ``devices`` as the inventory NXQL answers from."""
    add_users(container, "finder")
    container.services.provide(InventorySource, MemoryInventory({"devices": devices}))
    return client
