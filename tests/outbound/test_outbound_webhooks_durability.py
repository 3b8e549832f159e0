"""Acknowledged events survive ``kill -9`` of the server; two workers never deliver twice.

Real processes (``python -m credgate serve`` and ``credgate worker``), a real TLS receiver on
127.0.0.1, SQLite and PostgreSQL (a database of its own per test; skipped when not running).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from webhooks_receiver import Receiver, ca_bundle

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.outbound.models import DeliveryAttempt, WebhookDelivery
from served import wait_ready
from support import LOOPBACK_ALLOWED, free_port, own_pg_database

SRC = Path(__file__).resolve().parents[2] / "src"
ACTOR = Actor("tests", "pytest")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durable.db'}"
    else:
        with own_pg_database("credgate_wh", "skipped") as url:
            yield url


@pytest.fixture
def pg_only(tmp_path: Path) -> Iterator[str]:
    with own_pg_database("credgate_wh", "skipped") as url:
        yield url


class Installation:
    """Environment of the processes, and an in-process container on the same database."""

    def __init__(self, tmp_path: Path, database: str) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "CREDGATE_DATABASE_URL": database,
            "CREDGATE_DATA_DIR": str(tmp_path / "var"),
            "CREDGATE_MASTER_KEY": f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
            "CREDGATE_PEPPER": base64.b64encode(secrets.token_bytes(32)).decode(),
            "CREDGATE_ADMIN_PASSWORD": "correct horse battery staple",
            "CREDGATE_OUTBOUND_CA_BUNDLE": str(ca_bundle(tmp_path)),
            "CREDGATE_OUTBOUND_ALLOWED_NETWORKS": LOOPBACK_ALLOWED,
            "CREDGATE_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
            "CREDGATE_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
            "CREDGATE_WEBHOOK_MAX_ATTEMPTS": "50",
            "CREDGATE_WORKER_POLL_INTERVAL_SECONDS": "0.1",
            "CREDGATE_WORKER_LEASE_SECONDS": "2",
            "CREDGATE_WORKER_BATCH_SIZE": "20",
            "CREDGATE_LOG_LEVEL": "WARNING",
        }
        self.settings = Settings(
            data_dir=tmp_path / "var",
            database_url=database,
            master_key=self.env["CREDGATE_MASTER_KEY"],
            pepper=self.env["CREDGATE_PEPPER"],
            admin_password=self.env["CREDGATE_ADMIN_PASSWORD"],
            outbound_ca_bundle=self.env["CREDGATE_OUTBOUND_CA_BUNDLE"],
            outbound_allowed_networks=[LOOPBACK_ALLOWED],
        )
        self.container = Container.open(self.settings, bootstrap=True)

    def webhook(self, receiver_url: str) -> str:
        cred = self.container.connector_credentials.create(
            {
                "name": "receiver",
                "protocol": "HTTPS",
                "url": receiver_url + "/",
                "authorization": {"type": "BEARER", "token": "Tk-durable-0001"},
            },
            actor=ACTOR,
        )
        view, _ = self.container.outbound.webhooks.create(
            {
                "name": "durable",
                "credential": cred.id,
                "resource": "/events",
                "payload_template": '{"n": {{ payload.n }}}',
            },
            actor=ACTOR,
        )
        return str(view["id"])

    def start(self, *args: str, port: int | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if port is not None:
            env["CREDGATE_PORT"] = str(port)
        return subprocess.Popen(
            [sys.executable, "-m", "credgate", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def states(self) -> Counter[str]:
        with self.container.db.session() as session:
            return Counter(session.scalars(select(WebhookDelivery.state)).all())


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.stderr is not None:
        process.stderr.close()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_acknowledged_events_survive_kill_9(tmp_path: Path, database: str) -> None:
    total, before_kill = 1000, 300
    with Receiver(hold_after=before_kill) as receiver:
        inst = Installation(tmp_path, database)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            wid = inst.webhook(receiver.url)
            token = inst.container.admins.issue_token("admin", "durability", actor=ACTOR).token
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            first = inst.start("serve", port=port)
            processes.append(first)
            wait_ready(url, first)
            acknowledged: list[str] = []
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
                for n in range(10):  # through the admin API of the running server ...
                    answer = api.post(f"/admin/api/v1/webhooks/{wid}/send", json={"n": n})
                    assert answer.status_code == 202, answer.text
                    acknowledged.append(answer.json()["id"])
            for n in range(10, total):  # ... and, faster, straight through the service
                acknowledged.append(
                    inst.container.outbound.webhooks.send(wid, {"n": n}, actor=ACTOR)
                )
            # in the middle of delivery: some answered, some on the wire, the rest queued
            wait_until(lambda: receiver.held() > 0, 30, "no delivery in flight")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            answered_before = len(set(receiver.answered))
            assert answered_before < total
            receiver.hold_after = None
            receiver.release.set()
            second = inst.start("serve", port=port)
            processes.append(second)
            wait_ready(url, second)
            wait_until(
                lambda: set(acknowledged) <= set(receiver.answered),
                90,
                "not every acknowledged event was delivered after the restart",
            )
            wait_until(
                lambda: inst.states() == Counter({"delivered": total}), 15, str(inst.states())
            )
        finally:
            for process in processes:
                stop(process)
            inst.container.close()
    assert len(set(acknowledged)) == total
    assert set(acknowledged) <= set(receiver.answered)  # none lost; duplicates allowed


def test_two_workers_deliver_each_event_once(tmp_path: Path, pg_only: str) -> None:
    total = 300
    with Receiver(delay=0.002) as receiver:
        inst = Installation(tmp_path, pg_only)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            wid = inst.webhook(receiver.url)
            with inst.container.db.session() as session:
                for n in range(total):
                    inst.container.outbound.webhooks.enqueue(
                        session, "explicit", {"payload": {"n": n}}, webhook_id=wid
                    )
            workers = [inst.start("worker"), inst.start("worker")]
            wait_until(lambda: len(receiver.answered) >= total, 60, "not delivered in time")
            wait_until(
                lambda: inst.states() == Counter({"delivered": total}), 15, str(inst.states())
            )
        finally:
            for process in workers:
                stop(process)
            with inst.container.db.session() as session:
                by_worker = Counter(session.scalars(select(DeliveryAttempt.worker)).all())
            inst.container.close()
    counts = Counter(receiver.answered)
    assert len(counts) == total
    assert max(counts.values()) == 1, "an event was delivered twice"
    assert sum(by_worker.values()) == total
    assert len(by_worker) == 2, f"both workers should have delivered: {by_worker}"
