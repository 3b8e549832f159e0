"""Helpers of the platform API tests: credentials, tokens good and bad, seed definitions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.testclient import TestClient

from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.permissions import CATALOGUE
from credgate.demo import DEVICES_BY_OS

ACTOR = Actor("tests", "pytest")
ALL_PERMISSIONS = [p.id for p in CATALOGUE]


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def fetch_token(client: TestClient, client_id: str, secret: str) -> str:
    response = client.post(
        "/oauth2/default/v1/token",
        headers={"Content-Type": "application/x-www-form-urlencoded", **basic(client_id, secret)},
        content="grant_type=client_credentials&scope=service%3Aintegration",
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


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

# Paths that reach the NQL API however a gateway or server spells them. A token holding only
# "workflows" used to pass for every one of them.
TRICKS = {
    "/api/v1/workflows/../nql/execute": "nql",
    "/api/v1/%6eql/execute": "nql",
    "/api/v1/%6Eql/execute": "nql",
    "//api/v1/nql/execute": "nql",
    "/api/v1//nql/execute": "nql",
    "/API/v1/nql/execute": "nql",
    "/api/v1/./nql/execute": "nql",
    "/api/v1/x/../act/execute": "remote-actions",
    "/../api/v1/nql/execute": "nql",
    "/2/query": "nql",
    "/2/query?query=(select%20(name)%20(from%20device))": "nql",
    "/api/configuration/v1/engines": "engines",
    "/audit-trail/api/v1/engine/e-1/type/auditlog": "audit-trail",
    "http://gateway.example/api/v1/nql/execute": "nql",
}
# Paths gateways and servers read in different ways: refused whatever the token.
REFUSED = {
    "/api/v1/nql;x/execute": "';'",
    "/api/v1/workflows/..;/nql/execute": "';'",
    "/api/v1/workflows%2F..%2Fnql/execute": "encoded slash",
    "/api/v1/workflows%2f..%2fnql/execute": "encoded slash",
    "/api/v1/workflows/%5c..%5cnql/execute": "encoded slash",
    "/api/v1/workflows/%2e%2e/nql/execute": "encoded dot segment",
    "/api/v1/workflows/.%2E/nql/execute": "encoded dot segment",
    "/api/v1/workflows//../../nql/execute": "both // and a dot segment",
    "/api/v1/nql/execute%00": "encoded control character",
    "/api/v1/nql/execute\x00": "control character",
    "/api/v1/nql/exe%zzcute": "bad percent-encoding",
    "/api/v1/nql/execute%": "bad percent-encoding",
    "/api/v1/workflows\\..\\nql\\execute": "backslash",
    "/api/v1/nql/ex\xe9cute": "not ASCII",
    "api/v1/nql/execute": "must start with /",
    "/" + "a" * 9000: "longer than",
}

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


def settings_for(directory: Path, database_url: str, **overrides: Any) -> Settings:
    return Settings(
        data_dir=directory / "var",
        database_url=database_url,
        admin_password="correct horse battery staple",
        sync_interval_seconds=0.2,
        master_key=f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        pepper=base64.b64encode(secrets.token_bytes(32)).decode(),
        **overrides,
    )


def open_container(settings: Settings) -> Container:
    db = Database(settings.resolved_database_url)
    initialise(settings, db, create_keys=False)
    db.dispose()
    return Container.open(settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
