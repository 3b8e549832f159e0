"""Data exporters against a real SFTP server (asyncssh, started here) and a real HTTPS receiver."""

from __future__ import annotations

import asyncio
import csv
import hmac
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from webhooks_receiver import Receiver, ca_bundle

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.errors import InvalidInputError
from credgate.platform.models import InventoryObject

ACTOR = Actor("tests", "pytest")
USER = "exporter"
PASSWORD = "Sftp-exp0rt-5e3a"
DEVICES = [("alpha", "linux", 16), ("beta", "windows", 8), ('gamma, "quoted"', "linux", 32)]


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"outbound_ca_bundle": ca_bundle(tmp_path), "worker_in_serve": False}


class _Server(asyncssh.SSHServer):
    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and hmac.compare_digest(password.encode(), PASSWORD.encode())


@asynccontextmanager
async def sftp_server(root: Path, key: asyncssh.SSHKey) -> AsyncIterator[int]:
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[key],
        server_factory=_Server,
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
        allow_scp=False,
    )
    try:
        yield server.get_port()
    finally:
        server.close()
        await server.wait_closed()


def inventory(container: Container) -> None:
    with container.db.session() as session:
        for name, os_name, ram in DEVICES:
            session.add(
                InventoryObject(
                    object="device",
                    uid=f"uid-{ram}",
                    name=name,
                    fields={"#os": os_name, "#ram_gb": ram},
                )
            )
    container.definitions.create("enrichment_field", {"id": "device/device/#os"}, actor=ACTOR)
    container.definitions.create(
        "enrichment_field", {"id": "device/device/#ram_gb", "type": "number"}, actor=ACTOR
    )
    container.definitions.create(
        "query",
        {
            "id": "#linux_devices",
            "object": "devices",
            "filters": [{"field": "#os", "op": "eq", "value": "$os"}],
            "columns": ["name", "#os", "#ram_gb"],
            "sort": [{"field": "name"}],
        },
        actor=ACTOR,
    )


def sftp_credential(
    container: Container, port: int, key: asyncssh.SSHKey, name: str = "exports"
) -> str:
    return container.connector_credentials.create(
        {
            "name": name,
            "protocol": "SFTP",
            "url": f"sftp://127.0.0.1:{port}/",
            "authorization": {
                "username": USER,
                "password": PASSWORD,
                "host_key": key.export_public_key("openssh").decode().strip(),
            },
        },
        actor=ACTOR,
    ).id


def exporter(container: Container, cred: str, **fields: Any) -> dict[str, Any]:
    return container.outbound.exporters.create(
        {
            "name": "linux devices",
            "query_id": "#linux_devices",
            "parameters": {"os": "linux"},
            "format": "csv",
            "credential": cred,
            "directory": "/drop",
            "file_pattern": "{name}-{timestamp}.{ext}",
            "schedule": "daily",
            **fields,
        },
        actor=ACTOR,
    )


def test_csv_upload_matches_the_query_rows(container: Container, tmp_path: Path) -> None:
    root = tmp_path / "sftp"
    (root / "drop").mkdir(parents=True)
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    inventory(container)

    async def go() -> dict[str, Any]:
        async with sftp_server(root, key) as port:
            cred = sftp_credential(container, port, key)
            made = exporter(container, cred)
            return await container.outbound.worker.run_export(made["id"], "manual")

    run = asyncio.run(go())
    assert run["state"] == "succeeded", run["error"]
    assert run["rows"] == 2
    files = list((root / "drop").iterdir())
    assert [f.name for f in files] == [run["target"].rsplit("/", 1)[1]]
    assert files[0].name.startswith("linux_devices-")
    assert files[0].name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(files[0].read_text())))
    expected = container.platform.run_query(
        __import__("credgate.platform.definitions", fromlist=["to_query"]).to_query(
            container.definitions.get("query", "#linux_devices")
        ),
        {"os": "linux"},
        max_rows=100,
    )
    assert rows[0] == list(expected.headers)
    assert rows[1:] == [[str(v) for v in r] for r in expected.rows]
    assert rows[1:] == [["alpha", "linux", "16"], ['gamma, "quoted"', "linux", "32"]]
    history = container.outbound.exporters.runs("linux devices")
    assert history[0]["rows"] == 2
    assert history[0]["trigger"] == "manual"


def test_wrong_host_key_is_refused_and_nothing_uploaded(
    container: Container, tmp_path: Path
) -> None:
    root = tmp_path / "sftp"
    (root / "drop").mkdir(parents=True)
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    impostor = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    inventory(container)

    async def go() -> dict[str, Any]:
        async with sftp_server(root, impostor) as port:
            cred = sftp_credential(container, port, key)  # pins the real key
            made = exporter(container, cred)
            return await container.outbound.worker.run_export(made["id"], "manual")

    run = asyncio.run(go())
    assert run["state"] == "failed"
    assert "host key" in run["error"].lower()
    assert PASSWORD not in json.dumps(run)
    assert list((root / "drop").iterdir()) == []


def test_https_exporter_sends_an_object_holding_one_array(container: Container) -> None:
    inventory(container)
    with Receiver() as receiver:
        cred = container.connector_credentials.create(
            {
                "name": "lake",
                "protocol": "HTTPS",
                "url": receiver.url + "/",
                "authorization": {"type": "BEARER", "token": "Tk-lake-0042"},
            },
            actor=ACTOR,
        ).id
        made = exporter(
            container, cred, path="/ingest", body="json_object", array_key="devices", format="jsonl"
        )
        run = asyncio.run(container.outbound.worker.run_export(made["id"], "manual"))
    assert run["state"] == "succeeded", run["error"]
    [got] = receiver.requests
    assert got.path == "/ingest"
    assert got.headers["authorization"] == "Bearer Tk-lake-0042"
    assert json.loads(got.body) == {
        "devices": [
            {"name": "alpha", "#os": "linux", "#ram_gb": 16},
            {"name": 'gamma, "quoted"', "#os": "linux", "#ram_gb": 32},
        ]
    }


def test_bad_exporters_are_refused_naming_the_field(container: Container, tmp_path: Path) -> None:
    inventory(container)
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    cred = sftp_credential(container, 2222, key)
    for fields, field in (
        ({"query_id": "#nope"}, "query_id"),
        ({"credential": "missing"}, "credential"),
        ({"file_pattern": "../x.csv"}, "file_pattern"),
        ({"schedule": "monthly"}, "schedule"),
        ({"directory": "relative"}, "directory"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            exporter(container, cred, **fields)
        assert caught.value.errors[0].field == field, fields


def test_due_exporters_run_on_schedule(container: Container, tmp_path: Path) -> None:
    root = tmp_path / "sftp"
    (root / "drop").mkdir(parents=True)
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    inventory(container)
    from credgate.core.db import utcnow
    from credgate.outbound.models import Exporter

    async def go() -> None:
        async with sftp_server(root, key) as port:
            made = exporter(container, sftp_credential(container, port, key), schedule="hourly")
            with container.db.session() as session:
                row = session.get(Exporter, made["id"])
                assert row is not None
                row.next_run_at = utcnow()
            await container.outbound.worker.run_once()
            for _ in range(100):
                if (
                    container.outbound.exporters.runs(made["id"])
                    and container.outbound.exporters.runs(made["id"])[0]["state"] != "running"
                ):
                    break
                await asyncio.sleep(0.05)
            await container.outbound.worker.run_once()  # not due again for an hour

    asyncio.run(go())
    runs = container.outbound.exporters.runs("linux devices")
    assert [r["trigger"] for r in runs] == ["schedule"]
    assert runs[0]["state"] == "succeeded"
    assert len(list((root / "drop").iterdir())) == 1


def test_deleting_an_exporter_with_runs_removes_its_history(container: Container) -> None:
    """Runs go with their exporter, in one statement, without warnings (which fail tests)."""
    from sqlalchemy import func, select

    from credgate.outbound.models import ExporterRun

    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    inventory(container)
    # Port 9 on loopback: nothing listens, so each run fails fast and is recorded.
    made = exporter(container, sftp_credential(container, 9, key))
    for _ in range(2):
        assert (
            asyncio.run(container.outbound.worker.run_export(made["id"], "manual"))["state"]
            == "failed"
        )
    with container.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ExporterRun)) == 2
    container.outbound.exporters.delete(made["id"], actor=ACTOR)
    with container.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ExporterRun)) == 0
