"""Shared steps of the webhook tests: settings, a Basic credential, a webhook, and a worker
drained."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from webhooks_receiver import ca_bundle

from credgate.container import Container
from credgate.core.audit.services import Actor

ACTOR = Actor("tests", "pytest")
PASSWORD = "Pw-5e1c9a7b-receiver"


def webhook_settings(directory: Path, **changes: Any) -> dict[str, Any]:
    """Settings of a webhook test: the receiver's CA trusted, short backoffs, and the worker run
    by the test itself."""
    return {
        "outbound_ca_bundle": ca_bundle(directory),
        "webhook_backoff_base_seconds": 0.01,
        "webhook_backoff_max_seconds": 0.05,
        "worker_in_serve": False,
        **changes,
    }


def basic_credential(container: Container, url: str, name: str = "ServiceNow") -> str:
    view = container.connector_credentials.create(
        {
            "name": name,
            "protocol": "HTTPS",
            "url": url + "/",
            "authorization": {"type": "BASIC", "username": "svc", "password": PASSWORD},
        },
        actor=ACTOR,
    )
    return view.id


def make_webhook(
    container: Container, credential: str, **fields: Any
) -> tuple[dict[str, Any], str | None]:
    body = {
        "name": "incidents",
        "credential": credential,
        "method": "POST",
        "resource": "/api/now/table/incident",
        "triggers": ["workflow_execution"],
        **fields,
    }
    return container.outbound.webhooks.create(body, actor=ACTOR)


def drain(container: Container, rounds: int = 200) -> None:
    """Run the worker until nothing is pending (short backoffs make this quick)."""

    async def go() -> None:
        for _ in range(rounds):
            await container.outbound.worker.run_once()
            if not container.outbound.webhooks.counts().get("pending"):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("deliveries still pending")

    asyncio.run(go())
