"""The platform reads answered from prepared bodies (credgate.platform.reads).

Each answer must be the framework route's answer byte for byte (status, body, headers), the
framework must not be involved once the definitions are cached, and a change to a definition
must show in the next answer: on the node that made it at once, on another at its next poll.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from credgate.app import CredgateApp
from credgate.container import Container
from credgate.core.asgi import Receive, Scope, Send
from credgate.core.db import Database
from credgate.platform.definitions import DefinitionService
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import ACTOR, WORKFLOW_UUID

READS = [
    ("/api/v1/workflows", ""),
    ("/api/v1/workflows", "dependency=DEVICE"),
    ("/api/v1/workflows", "dependency=NONE&fetchOnlyActiveWorkflows=true"),
    ("/api/v1/workflows", "fetchOnlyActiveWorkflows=maybe"),
    ("/api/v1/workflows", "unknown=1"),
    ("/api/v1/workflows/details", "nqlId=%23restart_service"),
    ("/api/v1/workflows/details", f"nqlId={WORKFLOW_UUID}"),
    ("/api/v1/workflows/details", "nqlId=%23no_such_workflow"),
    ("/api/v1/workflows/details", ""),
    ("/api/v1/act/remote-action", ""),
    ("/api/v1/act/remote-action/details", "nql-id=%23get_disk"),
    ("/api/v1/act/remote-action/details", "nql-id=%23no_such_action"),
    ("/api/v1/act/remote-action/details", ""),
]


@pytest.fixture
def framework_calls(app: CredgateApp) -> Iterator[list[str]]:
    """The paths the platform reads handed to the framework."""
    calls: list[str] = []
    reads = app.platform_reads
    original = reads.fallback

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        await original(scope, receive, send)

    reads.fallback = counting
    yield calls
    reads.fallback = original


def _answer(
    client: TestClient, path: str, query: str, headers: dict[str, str]
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    response = client.get(f"{path}?{query}" if query else path, headers=headers)
    # The rate limit's remaining allowance changes with every request; its presence must not.
    raw = [(k, b"-" if k == b"ratelimit" else v) for k, v in response.headers.raw]
    return response.status_code, response.content, raw


def _through_framework(app: CredgateApp, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in app.platform_reads.routes:
        monkeypatch.delitem(app.routes, path)


@pytest.mark.parametrize(("path", "query"), READS)
def test_a_read_answers_as_the_framework_route_does(
    path: str,
    query: str,
    app: CredgateApp,
    client: TestClient,
    seeded: Container,
    all_headers: dict[str, str],
    framework_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = {**all_headers, "X-Request-Id": "  reads-test-1  "}
    _answer(client, path, query, headers)  # the definitions are cached after this one
    framework_calls.clear()
    lean = _answer(client, path, query, headers)
    kept = _answer(client, path, query, headers)  # a body kept from the first is the same
    assert framework_calls == []
    _through_framework(app, monkeypatch)
    assert lean == kept == _answer(client, path, query, headers)
    assert (b"x-request-id", b"reads-test-1") in lean[2]


@pytest.mark.parametrize(
    ("path", "permissions"),
    [
        ("/api/v1/workflows", None),
        ("/api/v1/workflows", ["nql"]),
        ("/api/v1/act/remote-action/details", None),
        ("/api/v1/act/remote-action/details", ["workflows"]),
    ],
)
def test_a_refused_token_is_answered_as_the_framework_route_does(
    path: str,
    permissions: list[str] | None,
    app: CredgateApp,
    client: TestClient,
    seeded: Container,
    token_for: object,
    all_headers: dict[str, str],
    framework_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.get(path, headers=all_headers)  # cached definitions
    headers = {"X-Request-Id": "reads-refused"}
    if permissions is not None:
        headers |= token_for(permissions)  # type: ignore[operator]
    framework_calls.clear()
    lean = _answer(client, path, "", headers)
    assert framework_calls == []
    assert lean[0] == (401 if permissions is None else 403)
    assert any(k == b"www-authenticate" for k, _v in lean[2])
    _through_framework(app, monkeypatch)
    assert lean == _answer(client, path, "", headers)


def test_a_new_request_id_each_time(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    ids = {client.get("/api/v1/workflows", headers=all_headers).headers["x-request-id"]}
    ids.add(client.get("/api/v1/workflows", headers=all_headers).headers["x-request-id"])
    assert len(ids) == 2
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)


def test_other_methods_and_spellings_stay_with_the_framework(
    client: TestClient, seeded: Container, all_headers: dict[str, str], framework_calls: list[str]
) -> None:
    client.get("/api/v1/workflows", headers=all_headers)
    framework_calls.clear()
    assert client.post("/api/v1/workflows", headers=all_headers).status_code == 405
    assert client.head("/api/v1/workflows", headers=all_headers).status_code == 405
    assert framework_calls == ["/api/v1/workflows", "/api/v1/workflows"]


def _ids(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    answer = client.get("/api/v1/workflows", headers=headers)
    assert answer.status_code == 200
    return {w["id"]: w["name"] for w in answer.json()}


def test_a_change_on_this_node_shows_at_once(
    client: TestClient, seeded: Container, all_headers: dict[str, str], framework_calls: list[str]
) -> None:
    definitions = seeded.definitions
    key = f"#reads_{uuid.uuid4().hex[:12]}"
    assert key not in _ids(client, all_headers)
    assert key not in _ids(client, all_headers)  # from the kept body
    definitions.create("workflow", {"id": key, "name": "Reads one"}, actor=ACTOR)
    assert _ids(client, all_headers)[key] == "Reads one"
    details = client.get(f"/api/v1/workflows/details?nqlId={key.replace('#', '%23')}",
                         headers=all_headers)  # fmt: skip
    assert details.json()[0]["name"] == "Reads one"
    definitions.update("workflow", key, {"name": "Reads two"}, actor=ACTOR)
    assert _ids(client, all_headers)[key] == "Reads two"
    details = client.get(f"/api/v1/workflows/details?nqlId={key.replace('#', '%23')}",
                         headers=all_headers)  # fmt: skip
    assert details.json()[0]["name"] == "Reads two"
    definitions.delete("workflow", key, actor=ACTOR)
    assert key not in _ids(client, all_headers)
    details = client.get(f"/api/v1/workflows/details?nqlId={key.replace('#', '%23')}",
                         headers=all_headers)  # fmt: skip
    assert details.status_code == 400
    assert details.json()["code"] == "NOT_FOUND"


def test_a_change_on_another_node_shows_after_its_poll(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    key = f"#reads_{uuid.uuid4().hex[:12]}"
    assert key not in _ids(client, all_headers)
    other = Database(seeded.settings.resolved_database_url)
    try:
        DefinitionService(other).create("workflow", {"id": key, "name": "Elsewhere"}, actor=ACTOR)
    finally:
        other.dispose()
    assert key not in _ids(client, all_headers)  # this node has not heard of it yet
    seeded.sync_once()
    # The first read after the change loads the kind again (through the framework's route); the
    # next one is answered from a body rendered from the new snapshot, not one kept from before.
    assert _ids(client, all_headers)[key] == "Elsewhere"
    assert _ids(client, all_headers)[key] == "Elsewhere"


def test_what_is_kept_does_not_grow_with_the_query_strings_sent(
    app: CredgateApp, client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    paths = ["/api/v1/workflows", "/api/v1/act/remote-action"]
    for path in paths:
        client.get(path, headers=all_headers)  # cached definitions
    for n in range(40):
        for path in paths:
            assert client.get(f"{path}?n={n}", headers=all_headers).status_code == 200
        details = f"/api/v1/workflows/details?nqlId=%23restart_service&n={n}"
        assert client.get(details, headers=all_headers).status_code == 200
    kept = {kind: len(b.bodies) for kind, b in app.platform_reads._bodies.items()}
    assert kept == {"workflow": 2, "remote_action": 1}  # the lists and one workflow's details
