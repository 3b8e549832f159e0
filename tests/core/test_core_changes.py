"""A change on one node reaches the caches of another node sharing the database."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient

from credgate.app import create_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings

ACTOR = Actor("tests", "pytest")


def test_delete_on_one_node_stops_tokens_on_the_other(
    container: Container, settings: Settings
) -> None:
    node_b = Container.open(settings)
    try:
        created = container.api_credentials.create(name="shared", permissions=["nql"], actor=ACTOR)
        cred = (created.credential.client_id, created.client_secret)
        header = {
            "Authorization": "Basic " + base64.b64encode(f"{cred[0]}:{cred[1]}".encode()).decode()
        }
        with TestClient(create_app(container=node_b)) as b:
            assert b.post("/api/v1/token", headers=header).status_code == 200
            token = b.post("/api/v1/token", headers=header).json()["access_token"]
            container.api_credentials.delete(cred[0], actor=ACTOR)  # on node A
            node_b.sync_once()  # what node B's background poll does every sync interval
            assert b.post("/api/v1/token", headers=header).status_code == 401
            record = node_b.registry.get(cred[0])
            assert record is None
            assert node_b.verifier.verify(token).client_id == cred[0]  # the signature is fine...
    finally:
        node_b.close()


def test_key_rotation_on_one_node_reaches_the_other(
    container: Container, settings: Settings
) -> None:
    node_b = Container.open(settings)
    try:
        kid = container.rotate_keys()
        assert node_b.keys().active.kid != kid
        node_b.sync_once()
        assert node_b.keys().active.kid == kid
        assert len(node_b.keys().published) == 2
    finally:
        node_b.close()
