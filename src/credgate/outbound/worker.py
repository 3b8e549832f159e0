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
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final

import anyio.to_thread
import httpx

from credgate.connectors.interfaces import (
    CONNECTIONS_PER_DESTINATION,
    CredentialClients,
    CredentialUnusable,
    PooledClient,
)
from credgate.core.db import utcnow
from credgate.core.errors import FieldError, InvalidInputError, NotFoundError
from credgate.core.logs import redact
from credgate.outbound.events import EVENT_TYPES, sample_context
from credgate.outbound.exporters import ExporterService, run_export
from credgate.outbound.models import Webhook
from credgate.outbound.payloads import (
    TemplateProblem,
    render_header,
    render_payload,
    render_resource,
)
from credgate.outbound.signing import Signer, signature_headers
from credgate.outbound.webhooks import AttemptRecord, Claimed, Finished, WebhookService

__all__ = [
    "AttemptResult",
    "DeliveryPolicy",
    "OutboundWorker",
    "Prepared",
    "attempt",
    "prepare",
    "retry_after_seconds",
    "scrub",
]

log = logging.getLogger("credgate.outbound")
EXCERPT_BYTES = 1024
GONE = "the receiver answered 410 Gone"

#: How many claimed batches one worker sends at once (see :meth:`OutboundWorker.drain`).
BATCHES_IN_FLIGHT = 2


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


_SHOWN_RESULT: Final = ("outcome", "status_code", "duration_ms", "error", "response")


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
        """The answer of a test send: the outcome, not how the worker goes on or what it sent."""
        return {name: getattr(self, name) for name in _SHOWN_RESULT}


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


def _sent_secrets(request: httpx.Request | None) -> list[str]:
    """What the client's auth put on the wire (a bearer token renewed at run time, Basic's
    encoding): scrubbed from the log like the entered secrets."""
    value = request.headers.get("authorization", "") if request is not None else ""
    return [value, value.partition(" ")[2]] if value else []


@dataclass(slots=True, eq=False)
class Prepared:
    """What every request of one webhook (as stored at one ``updated_at``) shares, worked out
    once: the path and the headers when they hold no placeholder, the signing key, and the
    parsed request URL for each instance URL its credential had."""

    path: str | None
    headers: dict[str, str] | None
    signer: Signer | None = field(repr=False)
    urls: dict[str, httpx.URL] = field(default_factory=dict)


def prepare(hook: Webhook, signing_secret: str | None) -> Prepared:
    """:class:`Prepared` for ``hook``; what cannot be worked out now is left to each request."""
    path: str | None = None
    headers: dict[str, str] | None = None
    signer: Signer | None = None
    with contextlib.suppress(TemplateProblem):  # each request reports it
        if "{" not in hook.resource:
            path = render_resource(hook.resource, {})
        if not any("{" in v for v in hook.headers.values()):
            headers = {k: render_header(k, v, {}) for k, v in hook.headers.items()}
            headers.setdefault("content-type", "application/json")
    with contextlib.suppress(ValueError):  # each request's signing raises it, as before
        signer = Signer(signing_secret) if signing_secret else None
    return Prepared(path, headers, signer)


async def attempt(
    hook: Webhook,
    signing_secret: str | None,
    context: Mapping[str, Any],
    message_id: str,
    transport: CredentialClients,
    timeout: float,  # noqa: ASYNC109 - the request's own timeout, passed on to httpx
    slots: dict[str, asyncio.Semaphore] | None = None,
    prepared: Prepared | None = None,
) -> AttemptResult:
    """Render and send one request; never raises for what the receiver or the data did.

    ``slots`` holds one semaphore per credential, so that no more requests go to one
    destination at once than its pooled client has connections. ``prepared``: what the
    requests of ``hook`` share, if the caller keeps it (see :func:`prepare`).
    """
    started = time.monotonic()
    secrets: list[str] = [signing_secret] if signing_secret else []

    def done(result: AttemptResult) -> AttemptResult:
        result.duration_ms = int((time.monotonic() - started) * 1000)
        result.error = scrub(result.error, secrets)
        result.response = scrub(result.response, secrets)
        return result

    if prepared is None:
        prepared = prepare(hook, signing_secret)
    try:
        path = render_resource(hook.resource, context) if prepared.path is None else prepared.path
        if prepared.headers is None:
            headers = {k: render_header(k, v, context) for k, v in hook.headers.items()}
            headers.setdefault("content-type", "application/json")
        else:
            headers = dict(prepared.headers)
        body = render_payload(hook.payload_template, context)
    except TemplateProblem as exc:
        return done(AttemptResult("failed", error=str(exc)))
    try:
        pooled: PooledClient = await transport.pooled_http(hook.credential_id)
    except CredentialUnusable as exc:
        return done(AttemptResult("failed", error=str(exc)))
    secrets += pooled.secrets
    signer = prepared.signer or signing_secret
    headers.update(signature_headers(signer, message_id, int(time.time()), body))
    if slots is None:
        slots = {}
    slot = slots.get(hook.credential_id)
    if slot is None:
        slot = slots[hook.credential_id] = asyncio.Semaphore(pooled.max_connections)
    try:
        url = _request_url(prepared, pooled.url, path)
        async with slot:
            answer = await pooled.client.request(
                hook.method, url, content=body, headers=headers, timeout=timeout
            )
    except Exception as exc:  # noqa: BLE001 - network errors, and an authentication failure (token endpoint down, refused, ...)
        with contextlib.suppress(RuntimeError):  # raised when no request was made
            secrets += _sent_secrets(getattr(exc, "request", None))
        return done(AttemptResult("retry", error=f"{type(exc).__name__}: {exc}"))
    secrets += _sent_secrets(answer.request)
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


def _request_url(prepared: Prepared, instance: str, path: str) -> httpx.URL | str:
    """The instance URL with the path, parsed once per instance URL when the path is fixed
    (parsing costs more than the rest of a request's set-up)."""
    url = instance.rstrip("/") + path if path else instance
    if prepared.path is None:
        return url
    parsed = prepared.urls.get(instance)
    if parsed is None:
        parsed = prepared.urls[instance] = httpx.URL(url)
    return parsed


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(eq=False, repr=False)
class OutboundWorker:
    """Claims due deliveries and exporters and works on them until stopped."""

    webhooks: WebhookService
    exporters: ExporterService
    transport: CredentialClients
    policy: DeliveryPolicy
    _: KW_ONLY
    batch_size: int = 20
    poll_interval: float = 1.0
    lease_seconds: float = 60.0
    export_query: Any = None
    protocol_of: Any = None
    worker_id: str = field(default_factory=_this_process)
    _exports: set[asyncio.Task[Any]] = field(default_factory=set, init=False)
    _hooks: dict[str, tuple[Webhook, str | None]] = field(default_factory=dict, init=False)
    # What the requests of each cached webhook share, with the Webhook it was made from.
    _prepared: dict[str, tuple[Webhook, Prepared]] = field(default_factory=dict, init=False)

    def _load_hooks(
        self, webhook_ids: set[str], versions: Mapping[str, dt.datetime] | None = None
    ) -> dict[str, tuple[Webhook, str | None]]:
        """The webhooks and their decrypted signing secrets, read again only when changed
        (``versions``: :meth:`WebhookService.versions`, read now if not given)."""
        if versions is None:
            versions = self.webhooks.versions(webhook_ids)
        for webhook_id in webhook_ids:
            cached = self._hooks.get(webhook_id)
            changed = versions.get(webhook_id)
            if changed is None:
                self._hooks.pop(webhook_id, None)
                self._prepared.pop(webhook_id, None)
            elif cached is None or cached[0].updated_at != changed:
                loaded = self.webhooks.load(webhook_id)
                if loaded is None:
                    self._hooks.pop(webhook_id, None)
                    self._prepared.pop(webhook_id, None)
                else:
                    self._hooks[webhook_id] = loaded
        return {w: self._hooks[w] for w in webhook_ids if w in self._hooks}

    def _prepared_for(self, webhook_id: str, hook: Webhook, secret: str | None) -> Prepared:
        kept = self._prepared.get(webhook_id)
        if kept is None or kept[0] is not hook:
            kept = self._prepared[webhook_id] = (hook, prepare(hook, secret))
        return kept[1]

    def _outcome(self, item: Claimed, result: AttemptResult) -> Finished:
        delivery_id, _webhook_id, _event, _data, attempts = item
        number = attempts + 1
        next_at: dt.datetime | None = None
        if result.outcome == "delivered":
            state = "delivered"
        elif result.outcome == "retry" and number < self.policy.max_attempts:
            state = "pending"
            next_at = utcnow() + dt.timedelta(seconds=self.policy.delay(number, result.retry_after))
        else:
            state = "failed"
        record = AttemptRecord(
            result.status_code, result.duration_ms, result.error, result.response, self.worker_id
        )
        return Finished(delivery_id, state, number, next_at, result.error, record)

    async def deliver_batch(
        self,
        items: Sequence[Claimed],
        token: str,
        slots: dict[str, asyncio.Semaphore] | None = None,
        order: tuple[asyncio.Event | None, asyncio.Event] | None = None,
    ) -> list[Finished]:
        """Send the deliveries claimed under ``token`` and record the outcomes (one
        transaction).

        They are sent concurrently, started in the order they were claimed (oldest first), at
        most ``max_connections`` requests at once per credential (``slots``, shared by the
        batches in flight together). With ``order`` (the batch ahead's event, this batch's
        event), this batch's requests start or queue for a slot only after the batch ahead's
        did. The claim is extended while they are sent, so a slow receiver does not let
        another worker take them meanwhile.
        """
        hooks = await anyio.to_thread.run_sync(self._load_hooks, {i[1] for i in items})
        finished = await self._send_claimed(
            items, token, hooks, {} if slots is None else slots, order
        )
        await anyio.to_thread.run_sync(self.webhooks.finish_many, finished)
        return finished

    async def _send_claimed(
        self,
        items: Sequence[Claimed],
        token: str,
        hooks: dict[str, tuple[Webhook, str | None]],
        slots: dict[str, asyncio.Semaphore],
        order: tuple[asyncio.Event | None, asyncio.Event] | None,
    ) -> list[Finished]:
        """:meth:`deliver_batch` but for the recording: answers the outcomes to record."""
        keeper = asyncio.create_task(self._keep_claim(token))
        try:
            return await self._send(items, hooks, slots, order)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await keeper

    async def _keep_claim(self, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await anyio.to_thread.run_sync(
                    self.webhooks.extend_claim, token, self.lease_seconds
                )
            except Exception:  # the next extension may get through; the lease is the fallback
                log.exception("outbound worker: could not extend a claim")

    async def _send(
        self,
        items: Sequence[Claimed],
        hooks: dict[str, tuple[Webhook, str | None]],
        slots: dict[str, asyncio.Semaphore],
        order: tuple[asyncio.Event | None, asyncio.Event] | None,
    ) -> list[Finished]:
        ahead, queued = order if order is not None else (None, asyncio.Event())
        try:
            if ahead is not None:
                await ahead.wait()
            return await self._send_loaded(items, slots, hooks, queued)
        finally:
            queued.set()  # never hold up the batch behind, whatever happened here

    async def _send_loaded(
        self,
        items: Sequence[Claimed],
        slots: dict[str, asyncio.Semaphore],
        hooks: dict[str, tuple[Webhook, str | None]],
        queued: asyncio.Event,
    ) -> list[Finished]:
        finished: list[Finished] = []
        gone: list[str] = []

        async def send(item: Claimed) -> None:
            delivery_id, webhook_id, _event, data, _attempts = item
            loaded = hooks.get(webhook_id)
            if loaded is None:
                return  # deleted meanwhile, with its deliveries
            hook, secret = loaded
            if webhook_id in gone:
                result = AttemptResult("failed", error=f"webhook disabled: {GONE}")
            elif not hook.enabled:
                reason = hook.disabled_reason or "by an administrator"
                result = AttemptResult("failed", error=f"webhook disabled: {reason}")
            else:
                context = {**data, "event_id": delivery_id}
                result = await attempt(
                    hook,
                    secret,
                    context,
                    delivery_id,
                    self.transport,
                    self.policy.timeout,
                    slots,
                    self._prepared_for(webhook_id, hook, secret),
                )
            if result.outcome == "gone" and webhook_id not in gone:
                gone.append(webhook_id)
            finished.append(self._outcome(item, result))

        # Per destination, as many senders as it takes requests at once, each taking the next
        # delivery in claimed order (cheaper than a task per delivery queued on the slot). Once
        # the last delivery is taken, the batch behind may start its own.
        lanes: dict[str, deque[Claimed]] = {}
        for item in items:
            loaded = hooks.get(item[1])
            lanes.setdefault(loaded[0].credential_id if loaded else "", deque()).append(item)

        async def sender(lane: deque[Claimed]) -> None:
            while lane:
                item = lane.popleft()
                if not any(lanes.values()):
                    queued.set()
                await send(item)

        await asyncio.gather(
            *(
                sender(lane)
                for lane in lanes.values()
                for _ in range(min(len(lane), CONNECTIONS_PER_DESTINATION))
            )
        )
        for webhook_id in gone:
            await anyio.to_thread.run_sync(self.webhooks.disable, webhook_id, GONE)
        return finished

    def _new_claim_token(self) -> str:
        return f"{self.worker_id}:{uuid.uuid4().hex[:12]}"

    async def _claim(self, token: str) -> list[Claimed]:
        return await anyio.to_thread.run_sync(
            lambda: self.webhooks.claim(
                self.worker_id, self.batch_size, self.lease_seconds, token=token
            )
        )

    def _record_and_claim(
        self, finished: list[Finished], token: str
    ) -> tuple[list[Claimed], dict[str, tuple[Webhook, str | None]]]:
        """Record the outcomes of the batches sent (and empty ``finished``), then claim the
        next batch and load its webhooks: one trip off the event loop, and one transaction,
        between two batches. Blocking."""
        items, versions = self.webhooks.finish_and_claim(
            finished, self.batch_size, self.lease_seconds, token=token
        )
        finished.clear()
        return items, (self._load_hooks({i[1] for i in items}, versions) if items else {})

    async def run_once(self) -> int:
        """Claim and deliver one batch; start due exporters. Answers how many were claimed."""
        token = self._new_claim_token()
        items = await self._claim(token)
        if items:
            await self.deliver_batch(items, token)
        await self._start_due_exports()
        return len(items)

    async def drain(
        self,
        slots: dict[str, asyncio.Semaphore] | None = None,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Deliver batch after batch until a claim finds less than a full batch, or ``stop`` is
        set; answers how many deliveries were claimed.

        Batches overlap: at most :data:`BATCHES_IN_FLIGHT` are being sent at once, and the
        next batch's requests queue behind the current one's. As soon as a batch's answers are
        all in, its outcomes are written and the next batch is claimed, in one trip to the
        database, while the batch behind it is still being sent: the receiver so never waits
        for the database between batches. Requests still start oldest first (the
        per-credential slots are shared and first-come first-served).
        """
        slots = {} if slots is None else slots
        total = 0
        sending: set[asyncio.Task[list[Finished]]] = set()
        unwritten: list[Finished] = []  # outcomes of the batches whose answers are all in
        problems: list[BaseException] = []
        ahead: asyncio.Event | None = None
        claiming = True

        def collect(done: set[asyncio.Task[list[Finished]]]) -> None:
            for task in done:
                if (problem := task.exception()) is not None:
                    problems.append(problem)
                else:
                    unwritten.extend(task.result())

        try:
            while True:
                claiming = claiming and not problems and (stop is None or not stop.is_set())
                if claiming and len(sending) < BATCHES_IN_FLIGHT:
                    token = self._new_claim_token()
                    items, hooks = await anyio.to_thread.run_sync(
                        self._record_and_claim, unwritten, token
                    )
                    total += len(items)
                    if items:
                        queued = asyncio.Event()
                        batch = self._send_claimed(items, token, hooks, slots, (ahead, queued))
                        sending.add(asyncio.create_task(batch))
                        ahead = queued
                    claiming = len(items) >= self.batch_size
                    continue
                if unwritten:  # no claim to ride along with: written on their own
                    await anyio.to_thread.run_sync(self.webhooks.finish_many, unwritten)
                    unwritten = []
                if not sending:
                    break
                done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                collect(done)
        finally:
            # Whatever happens, the batches already claimed are sent and recorded first.
            if sending:
                done, _ = await asyncio.wait(sending)
                collect(done)
            if unwritten:
                await anyio.to_thread.run_sync(self.webhooks.finish_many, unwritten)
        if problems:
            raise problems[0]
        return total

    async def _start_due_exports(self) -> None:
        if self.export_query is None:
            return
        for exporter_id in await anyio.to_thread.run_sync(
            self.exporters.claim_due, self.worker_id, 3600.0
        ):
            task = asyncio.create_task(self.run_export(exporter_id, "schedule"))
            self._exports.add(task)
            task.add_done_callback(self._exports.discard)

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
        """Work until ``stop`` is set; the batches in flight finish first."""
        log.info("outbound worker started", extra={"worker": self.worker_id})
        slots: dict[str, asyncio.Semaphore] = {}
        while not stop.is_set():
            try:
                await self.drain(slots, stop)
                await self._start_due_exports()
            except Exception:  # keep working through a database hiccup
                log.exception("outbound worker: a batch failed; retrying")
            # drain() ends on a short claim: nothing more was due then.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)
        for task in list(self._exports):
            with contextlib.suppress(Exception):
                await task

    async def test_send(self, ref: str, event_type: str = "explicit") -> dict[str, Any]:
        """Send one request right now with ``event_type``'s sample data; nothing is queued."""
        if event_type not in EVENT_TYPES:
            raise InvalidInputError([FieldError("event", f"unknown event {event_type!r}")])
        view = await anyio.to_thread.run_sync(self.webhooks.get, ref)
        loaded = await anyio.to_thread.run_sync(self.webhooks.load, view["id"])
        if loaded is None:
            raise NotFoundError(f"no webhook with id or name {ref!r}")
        hook, secret = loaded
        message_id = "msg_test_" + os.urandom(8).hex()
        context = {**sample_context(event_type), "event_id": message_id}
        result = await attempt(
            hook, secret, context, message_id, self.transport, self.policy.timeout
        )
        return {"webhook_id": message_id, **result.as_dict()}
