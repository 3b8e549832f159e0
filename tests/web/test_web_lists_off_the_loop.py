"""List pages and REST lists read the database off the event loop: a slow list query does not
hold ``/healthz`` (or any other request) behind it."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from credgate.app import create_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import LiveServer, free_port, sign_in

SLOW = 1.0


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.parametrize(
    "path", ["/admin/api-credentials?limit=200", "/admin/api/v1/api-credentials?limit=200"]
)
def test_healthz_answers_while_a_slow_list_is_read(
    container: Container, admin_token: str, path: str
) -> None:
    for n in range(3):
        container.api_credentials.create(
            name=f"listed {n}", permissions=["nql"], actor=Actor("tests", "pytest")
        )
    slow = threading.Event()

    def stall(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if slow.is_set() and "FROM api_credentials" in statement:
            time.sleep(SLOW)

    event.listen(container.db.engine, "before_cursor_execute", stall)
    server = LiveServer(create_app(container=container), free_port())
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert sign_in(client).status_code == 303
        client.headers["Authorization"] = f"Bearer {admin_token}"
        slow.set()
        answers: list[int] = []
        reader = threading.Thread(target=lambda: answers.append(client.get(path).status_code))
        reader.start()
        time.sleep(0.3)  # the list request is now waiting on its query
        with httpx.Client(base_url=server.url, timeout=30) as probe:
            started = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            waited = time.monotonic() - started
        reader.join()
    assert answers == [200]
    assert waited < SLOW / 2, f"/healthz waited {waited:.2f}s behind the list"
