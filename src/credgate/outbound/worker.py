"""The outbound worker: delivers queued webhook events and runs due exporters.

Delivery is at-least-once: a delivery is claimed for a lease, attempted, and only then marked
delivered; a worker killed mid-flight leaves the claim to expire and another attempt follows.
Retries back off exponentially with full jitter ("Exponential Backoff And Jitter"), a
``Retry-After`` answer (RFC 9110 section 10.2.3) sets the delay, and 410 Gone disables the
webhook. The ``webhook-id`` is the delivery's id on every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import os
import random
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx

from credgate.core.db import utcnow
from credgate.core.logs import redact
from credgate.outbound.events import EVENT_TYPES, sample_context
from credgate.outbound.exporters import ExporterService, run_export
from credgate.outbound.models import DeliveryAttempt, Webhook
from credgate.outbound.payloads import (
    TemplateProblem,
    render_header,
    render_payload,
    render_resource,
)
from credgate.outbound.signing import signature_headers
from credgate.outbound.transport import CredentialTransport, TransportError
from credgate.outbound.webhooks import WebhookService

__all__ = [
    "AttemptResult",
    "DeliveryPolicy",
    "OutboundWorker",
    "attempt",
    "retry_after_seconds",
    "scrub",
]

log = logging.getLogger("credgate.outbound")
EXCERPT_BYTES = 1024


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_base: float = 5.0
    backoff_max: float = 3600.0
    timeout: float = 15.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``: Retry-After if given, else full jitter."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


@dataclass(slots=True)
class AttemptResult:
    outcome: str  # delivered | retry | failed | gone
    status_code: int | None = None
    duration_ms: int = 0
    error: str = ""
    response: str = ""
    retry_after: float | None = None
    request: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "status_code": self.status_code,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "response": self.response,
        }


def retry_after_seconds(value: str | None) -> float | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - utcnow()).total_seconds())


def scrub(text: str, secrets: Sequence[str]) -> str:
    """The log's copy of a text: known secret shapes masked, then each of ``secrets`` removed."""
    text = redact(text)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "••••••••")
    return text


async def attempt(
    hook: Webhook,
    signing_secret: str | None,
    context: Mapping[str, Any],
    message_id: str,
    transport: CredentialTransport,
    timeout: float,  # noqa: ASYNC109 - the request's own timeout, passed on to httpx
) -> AttemptResult:
    """Render and send one request; never raises for what the receiver or the data did."""
    started = time.monotonic()
    secrets: list[str] = [signing_secret] if signing_secret else []

    def done(result: AttemptResult) -> AttemptResult:
        result.duration_ms = int((time.monotonic() - started) * 1000)
        result.error = scrub(result.error, secrets)
        result.response = scrub(result.response, secrets)
        return result

    try:
        path = render_resource(hook.resource, context)
        headers = {k: render_header(k, v, context) for k, v in hook.headers.items()}
        body = render_payload(hook.payload_template, context)
    except TemplateProblem as exc:
        return done(AttemptResult("failed", error=str(exc)))
    try:
        secrets += await transport.secret_values(hook.credential_id)
        client, base = await transport.open_http(hook.credential_id)
    except TransportError as exc:
        return done(AttemptResult("failed", error=str(exc)))
    headers.setdefault("content-type", "application/json")
    headers.update(signature_headers(signing_secret, message_id, int(time.time()), body))
    url = base.rstrip("/") + path if path else base
    try:
        async with client:
            answer = await client.request(
                hook.method, url, content=body, headers=headers, timeout=timeout
            )
    except (httpx.HTTPError, OSError) as exc:
        return done(AttemptResult("retry", error=f"{type(exc).__name__}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - an authentication failure (token endpoint down, refused, ...)
        return done(AttemptResult("retry", error=f"{type(exc).__name__}: {exc}"))
    excerpt = answer.content[:EXCERPT_BYTES].decode("utf-8", "replace")
    status = answer.status_code
    if 200 <= status < 300:
        return done(AttemptResult("delivered", status, response=excerpt))
    if status == 410:
        return done(
            AttemptResult(
                "gone", status, error="HTTP 410 Gone: the webhook is disabled", response=excerpt
            )
        )
    return done(
        AttemptResult(
            "retry",
            status,
            error=f"HTTP {status}",
            response=excerpt,
            retry_after=retry_after_seconds(answer.headers.get("retry-after")),
        )
    )


class OutboundWorker:
    """Claims due deliveries and exporters and works on them until stopped."""

    def __init__(
        self,
        webhooks: WebhookService,
        exporters: ExporterService,
        transport: CredentialTransport,
        policy: DeliveryPolicy,
        *,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        lease_seconds: float = 60.0,
        export_query: Any = None,
        protocol_of: Any = None,
        worker_id: str | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.exporters = exporters
        self.transport = transport
        self.policy = policy
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.export_query = export_query
        self.protocol_of = protocol_of
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self._exports: set[asyncio.Task[Any]] = set()

    async def deliver(self, item: tuple[str, str, str, dict[str, Any], int]) -> str:
        delivery_id, webhook_id, _event, data, attempts = item
        loaded = await anyio.to_thread.run_sync(self.webhooks.load, webhook_id)
        if loaded is None:
            return "gone"
        hook, secret = loaded
        number = attempts + 1
        if not hook.enabled:
            result = AttemptResult(
                "failed", error=f"webhook disabled: {hook.disabled_reason or 'by an administrator'}"
            )
        else:
            context = {**data, "event_id": delivery_id}
            result = await attempt(
                hook, secret, context, delivery_id, self.transport, self.policy.timeout
            )
        next_at: dt.datetime | None = None
        if result.outcome == "delivered":
            state = "delivered"
        elif result.outcome == "retry" and number < self.policy.max_attempts:
            state = "pending"
            next_at = utcnow() + dt.timedelta(seconds=self.policy.delay(number, result.retry_after))
        else:
            state = "failed"
        if result.outcome == "gone":
            await anyio.to_thread.run_sync(
                self.webhooks.disable, webhook_id, "the receiver answered 410 Gone"
            )
        record = DeliveryAttempt(
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
            response_excerpt=result.response,
            worker=self.worker_id,
        )
        await anyio.to_thread.run_sync(
            lambda: self.webhooks.finish(
                delivery_id,
                state=state,
                attempts=number,
                next_attempt_at=next_at,
                error=result.error,
                attempt=record,
            )
        )
        return state

    async def run_once(self) -> int:
        """Claim and deliver one batch; start due exporters. Answers how many were delivered."""
        items = await anyio.to_thread.run_sync(
            self.webhooks.claim, self.worker_id, self.batch_size, self.lease_seconds
        )
        if items:
            await asyncio.gather(*(self.deliver(i) for i in items))
        if self.export_query is not None:
            for exporter_id in await anyio.to_thread.run_sync(
                self.exporters.claim_due, self.worker_id, 3600.0
            ):
                task = asyncio.create_task(self.run_export(exporter_id, "schedule"))
                self._exports.add(task)
                task.add_done_callback(self._exports.discard)
        return len(items)

    async def run_export(self, exporter_id: str, trigger: str) -> dict[str, Any]:
        return await run_export(
            self.exporters,
            self.transport,
            self.export_query,
            exporter_id,
            trigger=trigger,
            protocol_of=self.protocol_of,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; a batch in flight finishes first."""
        log.info("outbound worker started", extra={"worker": self.worker_id})
        while not stop.is_set():
            claimed = 0
            try:
                claimed = await self.run_once()
            except Exception:  # keep working through a database hiccup
                log.exception("outbound worker: a batch failed; retrying")
            if claimed < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
        for task in list(self._exports):
            with contextlib.suppress(Exception):
                await task

    async def test_send(self, ref: str, event_type: str = "explicit") -> dict[str, Any]:
        """Send one request right now with ``event_type``'s sample data; nothing is queued."""
        if event_type not in EVENT_TYPES:
            from credgate.core.errors import FieldError, InvalidInputError

            raise InvalidInputError([FieldError("event", f"unknown event {event_type!r}")])
        view = await anyio.to_thread.run_sync(self.webhooks.get, ref)
        loaded = await anyio.to_thread.run_sync(self.webhooks.load, view["id"])
        assert loaded is not None
        hook, secret = loaded
        message_id = "msg_test_" + os.urandom(8).hex()
        context = {**sample_context(event_type), "event_id": message_id}
        result = await attempt(
            hook, secret, context, message_id, self.transport, self.policy.timeout
        )
        return {"webhook_id": message_id, **result.as_dict()}
