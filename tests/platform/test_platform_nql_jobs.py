"""NQL exports in the background: answered at once, run by the worker, 206 when truncated, 429
past the daily limit, files that expire, and jobs that survive a restart."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from credgate.app import create_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.db import utcnow
from credgate.platform import services as platform_services
from credgate.platform.models import PlatformRequest
from credgate.platform.services import EXPORT_LEASE
from support.platform_data import add_devices, save_query

ACTOR = Actor("tests", "pytest")
TOKEN_URL = "/oauth2/default/v1/token"


@pytest.fixture
def installed(container: Container) -> Iterator[Container]:
    save_query(container, "#by_os", ["name", "ram"], where=("os", "eq", "$os"), sort="name")
    save_query(container, "#misfit", ["name"], where=("ram", "eq", "lots"))
    add_devices(container, 5)
    yield container
    container.platform.exports.join(30)  # no export outlives the test's database


@pytest.fixture
def headers(client: TestClient, installed: Container) -> dict[str, str]:
    created = installed.api_credentials.create(
        name=f"nql-{uuid.uuid4().hex[:8]}", permissions=["nql"], actor=ACTOR
    )
    token = client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        auth=(created.credential.client_id, created.client_secret),
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def status(client: TestClient, export_id: str, headers: dict[str, str]) -> Any:
    return client.get(f"/api/v1/nql/status/{export_id}", headers=headers)


def finished(client: TestClient, export_id: str, headers: dict[str, str]) -> Any:
    deadline = time.monotonic() + 30
    while (answer := status(client, export_id, headers)).json()["status"] in (
        "SUBMITTED",
        "IN_PROGRESS",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return answer


def start(client: TestClient, headers: dict[str, str], **extra: Any) -> str:
    body = {"queryId": "#by_os", "parameters": {"os": "Linux"}, **extra}
    answer = client.post("/api/v1/nql/export", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    export_id: str = answer.json()["exportId"]
    return export_id


@pytest.fixture
def held(installed: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Exports wait for the event before they run: the answer cannot have waited for them."""
    release = threading.Event()
    run = platform_services.PlatformService.run_export

    # PlatformService is a slotted dataclass: its methods are patched on the class.
    def waiting(self: platform_services.PlatformService, export_id: str) -> None:
        release.wait(30)
        run(self, export_id)

    monkeypatch.setattr(platform_services.PlatformService, "run_export", waiting)
    yield release
    release.set()


def test_export_answers_at_once_then_completes(
    client: TestClient, headers: dict[str, str], held: threading.Event
) -> None:
    export_id = start(client, headers)
    pending = status(client, export_id, headers)
    assert pending.status_code == 200
    assert pending.json()["status"] in ("SUBMITTED", "IN_PROGRESS")  # claimed or not yet
    assert pending.json()["resultsFileUrl"] is None
    held.set()
    done = finished(client, export_id, headers)
    assert done.status_code == 200
    assert done.json()["status"] == "COMPLETED"
    download = client.get(done.json()["resultsFileUrl"])
    assert download.text.splitlines() == ["name,ram", "pc-1,4", "pc-3,12"]


def test_truncated_export_is_206(
    client: TestClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform_services, "EXPORT_ROW_LIMIT", 1)
    done = finished(client, start(client, headers), headers)
    assert done.status_code == 206
    assert client.get(done.json()["resultsFileUrl"]).text.splitlines() == ["name,ram", "pc-1,4"]


def test_a_value_that_does_not_fit_ends_in_error(
    client: TestClient, headers: dict[str, str]
) -> None:
    answer = client.post("/api/v1/nql/export", json={"queryId": "#misfit"}, headers=headers)
    done = finished(client, answer.json()["exportId"], headers)
    assert done.status_code == 200
    assert done.json() == {
        "status": "ERROR",
        "resultsFileUrl": None,
        "errorDescription": "filters[0]: 'lots' is not an integer",
    }


def test_daily_limit_is_429_with_retry_after(
    client: TestClient, installed: Container, headers: dict[str, str], held: threading.Event
) -> None:
    installed.platform.exports_per_day = 2
    start(client, headers)
    start(client, headers)
    refused = client.post(
        "/api/v1/nql/export", json={"queryId": "#by_os", "parameters": {"os": "x"}}, headers=headers
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == 429
    now = dt.datetime.now(dt.UTC)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(int(refused.headers["retry-after"]) - (midnight - now).total_seconds()) < 60
    assert len(installed.platform.list_requests("nql_export")) == 2  # the refused one is not kept


def test_finished_files_expire_and_are_deleted(
    client: TestClient, installed: Container, headers: dict[str, str]
) -> None:
    export_id = start(client, headers)
    assert finished(client, export_id, headers).json()["status"] == "COMPLETED"
    path = installed.platform.export_file(export_id)
    assert path is not None
    assert path.is_file()
    assert installed.platform.expire_exports() == 0
    later = utcnow() + dt.timedelta(hours=25)
    assert installed.platform.expire_exports(now=later) == 1
    assert not path.exists()
    gone = status(client, export_id, headers)
    assert gone.json()["status"] == "ERROR"
    assert "expired" in gone.json()["errorDescription"]


def test_exports_survive_a_restart(settings: Settings, installed: Container) -> None:
    first = TestClient(create_app(container=installed), base_url="http://127.0.0.1:8080")
    created = installed.api_credentials.create(name="nql-restart", permissions=["nql"], actor=ACTOR)
    token = first.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        auth=(created.credential.client_id, created.client_secret),
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    # The node stops before its worker runs one export and while it runs another.
    installed.platform.exports.wake = lambda: None  # type: ignore[method-assign]
    queued = start(first, headers)
    abandoned = start(first, headers)
    with installed.db.session() as session:
        session.execute(
            update(PlatformRequest)
            .where(PlatformRequest.id == abandoned)
            .values(state="IN_PROGRESS", updated_at=utcnow())
        )
    installed.close()

    node = Container.open(settings)
    try:
        again = TestClient(create_app(container=node), base_url="http://127.0.0.1:8080")
        assert node.platform.exports.drain() == 1  # the abandoned one is still leased
        assert finished(again, queued, headers).json()["status"] == "COMPLETED"
        assert status(again, abandoned, headers).json()["status"] == "IN_PROGRESS"
        with node.db.session() as session:
            session.execute(
                update(PlatformRequest)
                .where(PlatformRequest.id == abandoned)
                .values(updated_at=utcnow() - EXPORT_LEASE - dt.timedelta(seconds=1))
            )
        with again:  # the app's periodic loop wakes the worker, which claims the lapsed lease
            done = finished(again, abandoned, headers)
        assert done.json()["status"] == "COMPLETED"
        assert again.get(done.json()["resultsFileUrl"]).text.startswith("name,ram")
    finally:
        node.close()
