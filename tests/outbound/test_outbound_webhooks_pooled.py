"""Deliveries reuse what they can: one pooled client per credential (its connections and TLS
sessions), and the credential decrypted once until it changes."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from webhooks_receiver import Receiver
from webhooks_support import (
    ACTOR,
    PASSWORD,
    basic_credential,
    drain,
    make_webhook,
    webhook_settings,
)

from credgate.connectors.connections import CONNECTIONS_PER_DESTINATION
from credgate.container import Container
from credgate.outbound import worker as outbound_worker
from credgate.security.vault import Vault

WEBHOOKS = 4
EVENTS = 100


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return webhook_settings(tmp_path, worker_batch_size=20)


@pytest.fixture
def decrypts(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Vault decryptions, by what was decrypted (``connector_credential``, ``webhook``)."""
    seen: Counter[str] = Counter()
    decrypt = Vault.decrypt

    def counting(self: Vault, ciphertext: str, *, context: str) -> bytes:
        seen[context.split(":", 1)[0]] += 1
        return decrypt(self, ciphertext, context=context)

    monkeypatch.setattr(Vault, "decrypt", counting)
    return seen


def authorization(password: str) -> str:
    return "Basic " + base64.b64encode(f"svc:{password}".encode()).decode()


def test_100_deliveries_to_one_credential_reuse_connections_and_decrypt_once(
    container: Container, receiver: Receiver, decrypts: Counter[str]
) -> None:
    cred = basic_credential(container, receiver.url)
    hooks = [
        make_webhook(container, cred, name=f"hook-{n}", signing_secret="generate" if n else None)
        for n in range(WEBHOOKS)
    ]
    for n in range(EVENTS):
        container.outbound.webhooks.send(hooks[n % WEBHOOKS][0]["id"], {"n": n}, actor=ACTOR)
    decrypts.clear()
    drain(container)

    assert len(receiver.requests) == EVENTS
    assert container.outbound.webhooks.counts() == {"delivered": EVENTS}
    # Batches of 20 over one pool of at most 8 connections, each with one TLS handshake, where
    # a client per attempt made a hundred.
    assert 1 <= receiver.connections <= CONNECTIONS_PER_DESTINATION
    # The credential's password once, each signed webhook's secret once.
    assert decrypts == {"connector_credential": 1, "webhook": WEBHOOKS - 1}
    assert {r.headers["authorization"] for r in receiver.requests} == {authorization(PASSWORD)}


def test_a_changed_credential_is_read_again_and_used_at_once(
    container: Container, receiver: Receiver, decrypts: Counter[str]
) -> None:
    cred = basic_credential(container, receiver.url)
    hook, _ = make_webhook(container, cred)

    def send_and_drain(n: int) -> None:
        container.outbound.webhooks.send(hook["id"], {"n": n}, actor=ACTOR)
        drain(container)

    for n in range(3):
        send_and_drain(n)
    view = container.connector_credentials.get(cred)
    new_password = "Pw-rotated-0b7e42"
    container.connector_credentials.update(
        cred,
        {
            "name": view.name,
            "protocol": "HTTPS",
            "url": receiver.url + "/",
            "authorization": {"type": "BASIC", "username": "svc", "password": new_password},
        },
        actor=ACTOR,
    )
    decrypts.clear()
    for n in range(3, 6):
        send_and_drain(n)

    sent = [r.headers["authorization"] for r in receiver.requests]
    assert sent == [authorization(PASSWORD)] * 3 + [authorization(new_password)] * 3
    assert decrypts["connector_credential"] == 1  # read again once, then kept


def test_a_batch_held_up_by_a_slow_receiver_keeps_its_claim(
    container: Container, receiver: Receiver
) -> None:
    # 20 deliveries, 8 at a time, 0.5 s each: the batch outlasts its 1 s lease, and another
    # worker must still not take what is being sent.
    container.outbound.worker.lease_seconds = 1.0
    receiver.delay = 0.5
    hook, _ = make_webhook(container, basic_credential(container, receiver.url))
    for n in range(20):
        container.outbound.webhooks.send(hook["id"], {"n": n}, actor=ACTOR)

    async def deliver_and_try_to_steal() -> list[Any]:
        batch = asyncio.create_task(container.outbound.worker.run_once())
        await asyncio.sleep(1.3)
        stolen = await asyncio.to_thread(container.outbound.webhooks.claim, "other", 100, 1.0)
        await batch
        return stolen

    assert asyncio.run(deliver_and_try_to_steal()) == []
    assert container.outbound.webhooks.counts() == {"delivered": 20}
    assert len(receiver.requests) == 20


def test_the_worker_sends_the_next_batch_while_the_last_answers_are_awaited(
    container: Container, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 2 to a receiver that takes 1 s an answer: a worker that waits for a batch's
    # answers (and writes its outcomes) before claiming the next keeps 2 requests in flight;
    # one that overlaps batches keeps 4 (two batches), and never more.
    worker = container.outbound.worker
    worker.batch_size = 2
    receiver.delay = 1.0
    hook, _ = make_webhook(container, basic_credential(container, receiver.url))
    for n in range(6):
        container.outbound.webhooks.send(hook["id"], {"n": n}, actor=ACTOR)
    started: list[int] = []
    send = outbound_worker.attempt

    async def recording(*args: Any, **kwargs: Any) -> Any:
        started.append(args[2]["payload"]["n"])  # the context the request is rendered from
        return await send(*args, **kwargs)

    monkeypatch.setattr(outbound_worker, "attempt", recording)

    async def run_and_watch() -> int:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        most = 0
        for _ in range(400):
            most = max(most, receiver.held())
            if len(receiver.answered) == 6:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await running
        return most

    assert asyncio.run(run_and_watch()) == 4
    assert container.outbound.webhooks.counts() == {"delivered": 6}
    # Oldest first: each batch's requests start (or queue for a connection) before the next
    # batch's, even though the next batch was claimed and made ready meanwhile.
    assert [sorted(started[i : i + 2]) for i in (0, 2, 4)] == [[0, 1], [2, 3], [4, 5]]
