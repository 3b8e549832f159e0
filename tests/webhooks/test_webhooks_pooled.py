"""Deliveries reuse what they can: one pooled client per credential (its connections and TLS
sessions), and the credential decrypted once until it changes."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webhooks_receiver import Receiver, ca_bundle
from webhooks_support import ACTOR, PASSWORD, basic_credential, drain, make_webhook

from credgate.connectors.connections import CONNECTIONS_PER_DESTINATION
from credgate.container import Container
from credgate.security.vault import Vault

WEBHOOKS = 4
EVENTS = 100


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {
        "outbound_ca_bundle": ca_bundle(tmp_path),
        "webhook_backoff_base_seconds": 0.01,
        "webhook_backoff_max_seconds": 0.05,
        "worker_in_serve": False,
        "worker_batch_size": 20,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


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
