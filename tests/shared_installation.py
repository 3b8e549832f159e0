"""One installation per test module, for the API tests of the resource side (the platform
families, the bearer guard, forward auth): its fixtures, tokens good and bad, seed definitions.

On SQLite (the PostgreSQL path is exercised by the two-process test): these tests only add rows
of their own, and one installation per module keeps them fast. A module opts in by importing the
fixtures (``from shared_installation import *``): ``backend``, ``container`` and
``admin_token`` then replace tests/conftest.py's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.permissions import CATALOGUE
from credgate.demo import DEVICES_BY_OS
from support import fetch_token, make_key_material, make_settings, open_container

__all__ = [  # the fixtures, which a module takes with ``from shared_installation import *``
    "admin_token",
    "all_headers",
    "backend",
    "container",
    "crafted",
    "seeded",
    "shared_container",
    "shared_settings_overrides",
    "token_for",
]

ACTOR = Actor("tests", "pytest")
ALL_PERMISSIONS = [p.id for p in CATALOGUE]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(container: Container, client_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": container.settings.issuer,
        "sub": client_id,
        "client_id": client_id,
        "aud": container.settings.audience,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(ALL_PERMISSIONS),
    }
    claims.update(changes)
    return claims


TokenFor = Callable[[list[str]], dict[str, str]]

BAD_TOKENS = ("expired", "forged", "other_issuer", "alg_none", "unknown_kid", "hs256", "garbage")

WORKFLOW_UUID = "6f1c7c1e-54a5-4b8f-9d3e-0a2b1c3d4e5f"


def seed(container: Container) -> None:
    """One definition of each kind that the API may trigger, and one that it may not."""
    d = container.definitions
    d.create(
        "workflow",
        {
            "id": "#restart_service",
            "uuid": WORKFLOW_UUID,
            "name": "Restart service",
            "description": "Restarts the print spooler",
            "triggerMethods": ["API", "MANUAL"],
            "dependency": "DEVICE",
            "versions": [{"versionNumber": 1, "isActive": True}],
        },
        actor=ACTOR,
    )
    d.create(
        "workflow",
        {"id": "#manual_only", "name": "Manual only", "triggerMethods": ["MANUAL"]},
        actor=ACTOR,
    )
    d.create(
        "remote_action",
        {
            "id": "#get_disk",
            "name": "Get disk space",
            "purpose": ["DATA_COLLECTION"],
            "targeting": {"apiEnabled": True, "manualEnabled": True},
            "scriptInfo": {"hasScriptWindows": True, "inputs": [{"name": "drive"}]},
        },
        actor=ACTOR,
    )
    d.create(
        "remote_action",
        {"id": "#not_for_api", "name": "Manual action", "targeting": {"manualEnabled": True}},
        actor=ACTOR,
    )
    d.create(
        "campaign",
        {"id": "#onboarding", "name": "Onboarding survey", "parameters": ["team"]},
        actor=ACTOR,
    )
    d.create("query", DEVICES_BY_OS, actor=ACTOR)
    d.create(
        "enrichment_field",
        {"id": "device/device/#ram_gb", "type": "number"},
        actor=ACTOR,
    )
    d.create("enrichment_field", {"id": "device/device/#os"}, actor=ACTOR)


def bad_token(container: Container, client_id: str, kind: str) -> str:
    """A token for ``client_id`` (holding every permission) that is wrong in one way only."""
    active = container.keys().active
    header = {"alg": "ES256", "typ": "at+jwt", "kid": active.kid}
    if kind == "expired":
        past = int(time.time()) - 3600
        return jwt.encode(
            header, _claims(container, client_id, iat=past - 900, exp=past), active.key
        )
    if kind == "forged":
        return jwt.encode(header, _claims(container, client_id), ECKey.generate_key("P-256"))
    if kind == "other_issuer":
        claims = _claims(container, client_id, iss="https://evil.example/oauth2/default")
        return jwt.encode(header, claims, active.key)
    if kind == "alg_none":
        head = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": active.kid}).encode())
        return f"{head}.{_b64(json.dumps(_claims(container, client_id)).encode())}."
    if kind == "unknown_kid":
        other = ECKey.generate_key("P-256")
        return jwt.encode({**header, "kid": "unknown-kid"}, _claims(container, client_id), other)
    if kind == "hs256":
        # The classic confusion attack: the public key used as an HMAC secret.
        head = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": active.kid}).encode())
        body = _b64(json.dumps(_claims(container, client_id)).encode())
        secret = json.dumps(active.key.as_dict(private=False)).encode()
        mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(mac)}"
    if kind == "good":
        return jwt.encode(header, _claims(container, client_id), active.key)
    return "not-a-jwt"


# Fixtures (see ``__all__``)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def shared_settings_overrides() -> dict[str, object]:
    """Override in a module to change the shared installation's settings."""
    return {}


@pytest.fixture(scope="module")
def shared_container(
    tmp_path_factory: pytest.TempPathFactory, shared_settings_overrides: dict[str, object]
) -> Iterator[Container]:
    tmp = tmp_path_factory.mktemp("platform")
    url = f"sqlite:///{tmp / 'credgate.db'}"
    rt = open_container(make_settings(tmp, url, make_key_material(), **shared_settings_overrides))
    seed(rt)
    yield rt
    rt.close()


@pytest.fixture
def container(shared_container: Container) -> Container:
    return shared_container


@pytest.fixture
def seeded(container: Container) -> Container:
    """The container with :func:`seed`'s definitions (made once per module)."""
    return container


@pytest.fixture
def token_for(client: TestClient, container: Container) -> TokenFor:
    """``token_for(["workflows"])`` -> an Authorization header for a new credential."""

    def make(permissions: list[str]) -> dict[str, str]:
        created = container.api_credentials.create(
            name=f"it-{uuid.uuid4().hex[:10]}", permissions=permissions, actor=ACTOR
        )
        token = fetch_token(client, created.credential.client_id, created.client_secret)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def all_headers(token_for: TokenFor) -> dict[str, str]:
    return token_for(ALL_PERMISSIONS)


@pytest.fixture
def crafted(container: Container) -> Callable[[str], str]:
    """``crafted(kind)``: a token for an active credential holding every permission, wrong in
    one way (see :data:`BAD_TOKENS`), or ``"good"``."""
    created = container.api_credentials.create(
        name=f"crafted-{uuid.uuid4().hex[:8]}", permissions=ALL_PERMISSIONS, actor=ACTOR
    )
    return lambda kind: bad_token(container, created.credential.client_id, kind)


@pytest.fixture
def admin_token(container: Container) -> str:
    """An admin API token; named anew per test, as token names are unique per administrator
    and this directory shares one installation per module."""
    name = f"tests {uuid.uuid4().hex[:8]}"
    return container.admins.issue_token("admin", name, actor=ACTOR).token
