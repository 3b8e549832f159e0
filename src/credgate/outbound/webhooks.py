"""Webhooks: definitions, the outbox they are fed from, replays and the delivery log.

Blocking (SQLAlchemy): call it off the event loop. :meth:`WebhookService.enqueue` runs inside the
caller's transaction, so an event is queued if and only if the action that caused it is stored.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final, cast

from pydantic import Field, ValidationError
from sqlalchemy import Table, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from credgate.core.audit.services import Actor, record
from credgate.core.db import Database, utcnow
from credgate.core.errors import (
    ConflictError,
    FieldError,
    InvalidInputError,
    found,
    plain_errors,
)
from credgate.core.paging import Page, PageRequest, keyset_page
from credgate.core.strict import StrictModel
from credgate.outbound.events import COMMON_VARIABLES, EVENT_TYPES, sample_context
from credgate.outbound.models import (
    DeliveryAttempt,
    Webhook,
    WebhookDelivery,
    WebhookSecret,
    page_by_name,
    signing_secret_context,
)
from credgate.outbound.payloads import (
    TemplateProblem,
    check_variables,
    render_header,
    render_payload,
    render_resource,
)
from credgate.outbound.signing import generate_secret, parse_secret
from credgate.platform.interfaces import RecordedRequest
from credgate.security.vault import Vault

__all__ = [
    "METHODS",
    "AttemptRecord",
    "Claimed",
    "Finished",
    "WebhookIn",
    "WebhookService",
    "delivery_view",
    "new_message_id",
]

METHODS: Final = ("POST", "PUT", "PATCH")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_RESERVED = {
    "host",
    "content-length",
    "authorization",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "transfer-encoding",
    "connection",
}


#: A claimed delivery: (id, webhook id, event type, data, attempts so far).
Claimed = tuple[str, str, str, dict[str, Any], int]


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(16)


class WebhookIn(StrictModel):
    """A webhook as entered. ``signing_secret``: ``whsec_<base64>``, ``"generate"`` or null."""

    name: str = Field(min_length=1, max_length=200)
    credential: str = Field(min_length=1, description="Connector credential id or name.")
    method: str = "POST"
    resource: str = Field("", max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    payload_template: str = Field("", max_length=65536)
    triggers: list[str] = Field(default_factory=list)
    signing_secret: str | None = None
    enabled: bool = True


def check_templates(data: WebhookIn) -> list[FieldError]:
    """Render every template against each trigger's sample data; report what fails."""
    problems: list[FieldError] = []
    sources = [("resource", data.resource), ("payload_template", data.payload_template)]
    sources += [(f"headers.{k}", v) for k, v in data.headers.items()]
    for where, source in sources:
        try:
            check_variables(where, source, [*COMMON_VARIABLES, "event_id"])
        except TemplateProblem as exc:
            problems.append(FieldError(exc.field, exc.message))
    if problems:
        return problems
    for event in data.triggers or ["explicit"]:
        context = sample_context(event)
        try:
            render_resource(data.resource, context)
            for name, value in data.headers.items():
                render_header(name, value, context)
            render_payload(data.payload_template, context)
        except TemplateProblem as exc:
            problems.append(FieldError(exc.field, f"{exc.message} (with the sample {event} event)"))
            break
    return problems


def _problems(data: WebhookIn) -> list[FieldError]:
    problems: list[FieldError] = []
    if data.method.upper() not in METHODS:
        problems.append(FieldError("method", f"must be one of {', '.join(METHODS)}"))
    data.method = data.method.upper()
    if data.resource and not data.resource.startswith("/"):
        problems.append(
            FieldError("resource", "must start with '/' (it is appended to the credential's URL)")
        )
    for event in data.triggers:
        if event not in EVENT_TYPES:
            problems.append(
                FieldError("triggers", f"unknown event {event!r}; use {', '.join(EVENT_TYPES)}")
            )
    for name in data.headers:
        if not _HEADER_NAME.match(name):
            problems.append(FieldError(f"headers.{name}", "not a valid header name"))
        elif name.lower() in _RESERVED:
            problems.append(FieldError(f"headers.{name}", "this header is set by credgate"))
    if data.signing_secret not in (None, "", "generate"):
        try:
            parse_secret(data.signing_secret)
        except ValueError as exc:
            problems.append(FieldError("signing_secret", str(exc).split(": ", 1)[-1]))
    # The templates are rendered only once their names are known good.
    return problems or check_templates(data)


def webhook_view(row: Webhook, signed: bool) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "credential_id": row.credential_id,
        "method": row.method,
        "resource": row.resource,
        "headers": dict(row.headers),
        "payload_template": row.payload_template,
        "triggers": list(row.triggers),
        "signed": signed,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def delivery_view(
    row: WebhookDelivery, attempts: Sequence[DeliveryAttempt] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "webhook_id": row.webhook_id,
        "event_type": row.event_type,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if attempts is not None:
        out["log"] = [
            {
                "attempted_at": a.attempted_at.isoformat(),
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "error": a.error,
                "response": a.response_excerpt,
            }
            for a in attempts
        ]
    return out


@dataclass(frozen=True, slots=True, eq=False)
class WebhookService:
    db: Database = field(repr=False)
    vault: Vault = field(repr=False)
    _: KW_ONLY
    credential_protocol: Callable[[str], tuple[str, str] | None]

    # Definitions ---------------------------------------------------------------------------

    def _parse(self, data: object) -> tuple[WebhookIn, str]:
        """The webhook and its credential's id; every problem of the input at once."""
        raw = dict(data) if isinstance(data, Mapping) else {}
        parsed: WebhookIn | None = None
        try:
            parsed = WebhookIn.model_validate(data)
        except ValidationError as exc:
            problems = plain_errors(exc)
            # The fields that are well formed are still checked, so that the answer names
            # every problem at once.
            failed = {p.field.split(".")[0] for p in problems}
            defaults = WebhookIn.model_construct(name="", credential="").model_dump()
            sound = {k: v for k, v in raw.items() if k in defaults and k not in failed}
            problems += _problems(WebhookIn.model_construct(**{**defaults, **sound}))
        else:
            problems = _problems(parsed)
        ref = raw.get("credential")
        found = self.credential_protocol(ref) if isinstance(ref, str) and ref else None
        if isinstance(ref, str) and ref and not any(p.field == "credential" for p in problems):
            if found is None:
                problems.append(
                    FieldError("credential", f"there is no connector credential {ref!r}")
                )
            elif found[1] != "HTTPS":
                problems.append(
                    FieldError(
                        "credential",
                        f"a webhook sends HTTPS requests; {ref!r} is an {found[1]} credential",
                    )
                )
        if problems:
            raise InvalidInputError(problems)
        assert parsed is not None
        assert found is not None
        return parsed, found[0]

    def check(self, data: object) -> None:
        """Raise :class:`InvalidInputError` with every problem of ``data``; store nothing."""
        self._parse(data)

    def create(self, data: object, *, actor: Actor) -> tuple[dict[str, Any], str | None]:
        """Store a webhook; answer its view and, when one was generated, its signing secret."""
        parsed, credential_id = self._parse(data)
        wid = str(uuid.uuid4())
        secret = (
            generate_secret()
            if parsed.signing_secret == "generate"
            else parsed.signing_secret or None
        )
        with self.db.session() as session:
            self._refuse_taken(session, parsed.name, None)
            row = Webhook(
                id=wid,
                name=parsed.name,
                credential_id=credential_id,
                method=parsed.method,
                resource=parsed.resource,
                headers=parsed.headers,
                payload_template=parsed.payload_template,
                triggers=parsed.triggers,
                enabled=parsed.enabled,
            )
            session.add(row)
            session.flush()
            self._set_secret(session, wid, secret)
            record(
                session, actor, "webhook.create", "webhook", wid, sorted(parsed.model_fields_set)
            )
            view = webhook_view(row, secret is not None)
        return view, (secret if parsed.signing_secret == "generate" else None)

    def update(self, ref: str, data: object, *, actor: Actor) -> tuple[dict[str, Any], str | None]:
        """Replace a webhook's fields; ``signing_secret`` absent or null keeps the stored one,
        ``""`` removes it, ``"generate"`` makes a new one (answered once)."""
        raw = dict(data) if isinstance(data, Mapping) else {}
        keep_secret = raw.get("signing_secret") is None
        parsed, credential_id = self._parse(data)
        new_secret = (
            generate_secret() if parsed.signing_secret == "generate" else parsed.signing_secret
        )
        with self.db.session() as session:
            row = self._get(session, ref)
            self._refuse_taken(session, parsed.name, row.id)
            row.name = parsed.name
            row.credential_id = credential_id
            row.method = parsed.method
            row.resource = parsed.resource
            row.headers = parsed.headers
            row.payload_template = parsed.payload_template
            row.triggers = parsed.triggers
            if parsed.enabled and not row.enabled:
                row.disabled_reason = ""
            row.enabled = parsed.enabled
            if not keep_secret:
                self._set_secret(session, row.id, new_secret or None)
                session.flush()
            row.updated_at = utcnow()
            record(
                session, actor, "webhook.update", "webhook", row.id, sorted(parsed.model_fields_set)
            )
            view = webhook_view(row, session.get(WebhookSecret, row.id) is not None)
        return view, (new_secret if parsed.signing_secret == "generate" else None)

    def delete(self, ref: str, *, actor: Actor) -> None:
        with self.db.session() as session:
            row = self._get(session, ref)
            session.execute(
                delete(DeliveryAttempt).where(
                    DeliveryAttempt.delivery_id.in_(
                        select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == row.id)
                    )
                )
            )
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == row.id))
            session.execute(delete(WebhookSecret).where(WebhookSecret.webhook_id == row.id))
            session.delete(row)
            record(session, actor, "webhook.delete", "webhook", row.id, [])

    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as session:
            signed = set(session.scalars(select(WebhookSecret.webhook_id)))
            return [
                webhook_view(r, r.id in signed)
                for r in session.scalars(select(Webhook).order_by(Webhook.name))
            ]

    def page(self, request: PageRequest) -> Page[dict[str, Any]]:
        """One page of webhooks, by name; ``q`` finds a part of the name or of the id."""
        with self.db.session() as session:
            page = page_by_name(session, Webhook, request)
            shown = [row.id for row in page.items]
            signed = set(
                session.scalars(
                    select(WebhookSecret.webhook_id).where(WebhookSecret.webhook_id.in_(shown))
                )
            )
            return page.map(lambda row: webhook_view(row, row.id in signed))

    def get(self, ref: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._get(session, ref)
            return webhook_view(row, session.get(WebhookSecret, row.id) is not None)

    def _set_secret(self, session: Session, webhook_id: str, secret: str | None) -> None:
        stored = session.get(WebhookSecret, webhook_id)
        if secret is None:
            if stored is not None:
                session.delete(stored)
            return
        sealed = self.vault.encrypt(secret, context=signing_secret_context(webhook_id))
        if stored is None:
            session.add(WebhookSecret(webhook_id=webhook_id, ciphertext=sealed))
        else:
            stored.ciphertext = sealed

    def _secret(self, session: Session, webhook_id: str) -> str | None:
        stored = session.get(WebhookSecret, webhook_id)
        if stored is None:
            return None
        return self.vault.decrypt_text(
            stored.ciphertext, context=signing_secret_context(webhook_id)
        )

    def load(self, webhook_id: str) -> tuple[Webhook, str | None] | None:
        """The webhook row (detached) and its decrypted signing secret, for the worker."""
        with self.db.session() as session:
            row = session.get(Webhook, webhook_id)
            if row is None:
                return None
            secret = self._secret(session, row.id)
            session.expunge(row)
            return row, secret

    def disable(self, webhook_id: str, reason: str) -> None:
        with self.db.session() as session:
            row = session.get(Webhook, webhook_id)
            if row is not None:
                row.enabled = False
                row.disabled_reason = reason[:500]
                row.updated_at = utcnow()

    @staticmethod
    def _get(session: Session, ref: str) -> Webhook:
        row = session.get(Webhook, ref) or session.scalar(
            select(Webhook).where(Webhook.name == ref)
        )
        return found(row, f"no webhook with id or name {ref!r}")

    @staticmethod
    def _refuse_taken(session: Session, name: str, own_id: str | None) -> None:
        other = session.scalar(select(Webhook.id).where(Webhook.name == name))
        if other is not None and other != own_id:
            raise ConflictError("name", f"a webhook named {name!r} already exists")

    # The outbox ------------------------------------------------------------------------------

    def enqueue(
        self,
        session: Session,
        event_type: str,
        context: Mapping[str, Any],
        *,
        webhook_id: str | None = None,
    ) -> builtins.list[str]:
        """Queue ``event_type`` for every enabled webhook it triggers (or only ``webhook_id``),
        in ``session``'s transaction. Answers the message ids."""
        query = select(Webhook).where(Webhook.enabled.is_(True))
        if webhook_id is not None:
            query = query.where(Webhook.id == webhook_id)
        ids: list[str] = []
        now = utcnow()
        for hook in session.scalars(query):
            if webhook_id is None and event_type not in hook.triggers:
                continue
            mid = new_message_id()
            data = {**context, "event": event_type, "occurred_at": now.isoformat()}
            session.add(
                WebhookDelivery(
                    id=mid,
                    webhook_id=hook.id,
                    event_type=event_type,
                    data=data,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            ids.append(mid)
        return ids

    def on_platform_request(self, session: Session, request: RecordedRequest) -> None:
        """The platform's hook: a stored request becomes its event, in the same transaction."""
        if request.kind not in EVENT_TYPES:
            return
        self.enqueue(
            session,
            request.kind,
            {
                "request_id": request.id,
                "client_id": request.client_id,
                "state": request.state,
                "target": request.target,
                "payload": request.payload,
                "result": request.result,
            },
        )

    def send(self, ref: str, payload: Mapping[str, Any], *, actor: Actor) -> str:
        """An explicit send: queue one ``explicit`` event for one webhook."""
        with self.db.session() as session:
            row = self._get(session, ref)
            if not row.enabled:
                raise ConflictError(
                    "enabled",
                    f"the webhook is disabled: {row.disabled_reason or 'by an administrator'}",
                )
            context = {
                "request_id": "",
                "client_id": actor.name,
                "state": "",
                "target": "",
                "payload": dict(payload),
                "result": None,
            }
            ids = self.enqueue(session, "explicit", context, webhook_id=row.id)
        return str(ids[0])

    # The delivery log ------------------------------------------------------------------------

    def deliveries(
        self, *, webhook: str | None = None, state: str | None = None, limit: int = 100
    ) -> builtins.list[dict[str, Any]]:
        query = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc()).limit(limit)
        with self.db.session() as session:
            if webhook is not None:
                query = query.where(WebhookDelivery.webhook_id == self._get(session, webhook).id)
            if state is not None:
                query = query.where(WebhookDelivery.state == state)
            return [delivery_view(r) for r in session.scalars(query)]

    def deliveries_page(
        self, request: PageRequest, *, webhook: str | None = None, state: str | None = None
    ) -> Page[dict[str, Any]]:
        """One page of the delivery log, newest first; ``q`` finds a part of the delivery id
        (the ``webhook-id`` header) or of the event type."""
        with self.db.session() as session:
            query = select(WebhookDelivery)
            if webhook is not None:
                query = query.where(WebhookDelivery.webhook_id == self._get(session, webhook).id)
            if state is not None:
                query = query.where(WebhookDelivery.state == state)
            page = keyset_page(
                session,
                query,
                request,
                order=[WebhookDelivery.created_at, WebhookDelivery.id],
                search=[WebhookDelivery.id, WebhookDelivery.event_type],
                descending=True,
            )
            return page.map(delivery_view)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = found(session.get(WebhookDelivery, delivery_id), f"no delivery {delivery_id!r}")
            attempts = session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == row.id)
                .order_by(DeliveryAttempt.id)
            ).all()
            return delivery_view(row, attempts)

    def replay(self, delivery_id: str, *, actor: Actor) -> dict[str, Any]:
        """Queue a failed delivery again, with the same ``webhook-id``."""
        with self.db.session() as session:
            row = found(session.get(WebhookDelivery, delivery_id), f"no delivery {delivery_id!r}")
            if row.state == "pending":
                raise ConflictError("state", "the delivery is still pending")
            row.state = "pending"
            row.attempts = 0
            row.next_attempt_at = utcnow()
            row.claimed_by = None
            row.claim_until = None
            row.updated_at = utcnow()
            record(session, actor, "webhook_delivery.replay", "webhook_delivery", row.id, [])
            return delivery_view(row)

    def counts(self) -> dict[str, int]:
        with self.db.session() as session:
            rows = session.execute(
                select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            ).all()
            return {str(s): int(n) for s, n in rows}

    # Claims ----------------------------------------------------------------------------------

    def claim(
        self, worker: str, limit: int, lease: float, *, token: str | None = None
    ) -> builtins.list[Claimed]:
        """Claim up to ``limit`` due deliveries for ``lease`` seconds, under ``token`` (a new
        one by default; :meth:`extend_claim` takes it).

        Two workers never take the same row (see :meth:`Claimable.claim`). Answers (id, webhook_id, event_type, data, attempts) of the rows now held by this claim,
        oldest first.
        """
        token = token or f"{worker}:{uuid.uuid4().hex[:12]}"
        with self.db.session() as session:
            return self._claim(session, limit, lease, token)

    def finish_and_claim(
        self, finished: Sequence[Finished], limit: int, lease: float, *, token: str
    ) -> tuple[builtins.list[Claimed], dict[str, dt.datetime]]:
        """:meth:`finish_many`, then :meth:`claim`, in one transaction (one commit between two
        batches); answers the claimed deliveries and :meth:`versions` of their webhooks."""
        with self.db.session() as session:
            self._finish(session, finished)
            claimed = self._claim(session, limit, lease, token)
            return claimed, self._versions(session, {c[1] for c in claimed})

    def _claim(
        self, session: Session, limit: int, lease: float, token: str
    ) -> builtins.list[Claimed]:
        now = utcnow()
        due = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookDelivery.unclaimed(now),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
            .limit(limit)
        )
        until = now + dt.timedelta(seconds=lease)
        table = cast(Table, WebhookDelivery.__table__)
        columns = (
            table.c.id,
            table.c.webhook_id,
            table.c.event_type,
            table.c.data,
            table.c.attempts,
            table.c.next_attempt_at,
            table.c.created_at,
        )
        rows: Sequence[Any] | None = WebhookDelivery.claim(
            session,
            due,
            token,
            until,
            postgresql=self.db.is_postgresql,
            returning=columns,
        )
        if rows is None:  # the database returns nothing from an UPDATE: read them
            rows = session.execute(select(*columns).where(table.c.claimed_by == token)).all()
        oldest_first = sorted(rows, key=lambda r: (r.next_attempt_at, r.created_at))
        return [(r.id, r.webhook_id, r.event_type, r.data, r.attempts) for r in oldest_first]

    def extend_claim(self, token: str, lease: float) -> None:
        """Hold the deliveries still claimed under ``token`` for ``lease`` more seconds."""
        with self.db.session() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.claimed_by == token)
                .values(claim_until=utcnow() + dt.timedelta(seconds=lease))
                .execution_options(synchronize_session=False)
            )

    def finish(
        self,
        delivery_id: str,
        *,
        state: str,
        attempts: int,
        next_attempt_at: dt.datetime | None,
        error: str,
        attempt: AttemptRecord | DeliveryAttempt,
    ) -> None:
        """Record one attempt and the delivery's new state, and release the claim."""
        self.finish_many([Finished(delivery_id, state, attempts, next_attempt_at, error, attempt)])

    def finish_many(self, finished: Sequence[Finished]) -> None:
        """:meth:`finish` for a batch of deliveries, in one transaction of a few statements."""
        if finished:
            with self.db.session() as session:
                self._finish(session, finished)

    @staticmethod
    def _finish(session: Session, finished: Sequence[Finished]) -> None:
        if not finished:
            return
        table = cast(Table, WebhookDelivery.__table__)
        log = cast(Table, DeliveryAttempt.__table__)
        now = utcnow()
        # The attempt of a delivery deleted meanwhile (with its webhook) is not logged: each
        # row is inserted only if its delivery is still there.
        values = {
            column: bindparam(f"a_{column}", type_=log.c[column].type)
            for column in (
                "delivery_id",
                "attempted_at",
                "status_code",
                "duration_ms",
                "error",
                "response_excerpt",
                "worker",
            )
        }
        still_there = exists().where(table.c.id == values["delivery_id"])
        session.execute(
            insert(log).from_select(list(values), select(*values.values()).where(still_there)),
            [
                {
                    "a_delivery_id": f.delivery_id,
                    "a_attempted_at": f.attempt.attempted_at or now,
                    "a_status_code": f.attempt.status_code,
                    "a_duration_ms": f.attempt.duration_ms or 0,
                    "a_error": f.attempt.error or "",
                    "a_response_excerpt": f.attempt.response_excerpt or "",
                    "a_worker": f.attempt.worker or "",
                }
                for f in finished
            ],
        )
        settled: dict[tuple[str, int, str], list[str]] = {}
        retried: list[dict[str, Any]] = []
        for f in finished:
            if f.next_attempt_at is None:
                settled.setdefault((f.state, f.attempts, f.error[:2000]), []).append(f.delivery_id)
            else:
                retried.append(
                    {
                        "b_id": f.delivery_id,
                        "b_state": f.state,
                        "b_attempts": f.attempts,
                        "b_error": f.error[:2000],
                        "b_next": f.next_attempt_at,
                    }
                )
        # A delivery another worker delivered meanwhile (after this claim's lease ran out)
        # stays delivered.
        open_ = table.c.state != "delivered"
        released = {"claimed_by": None, "claim_until": None, "updated_at": now}
        # Delivered and failed deliveries mostly share their new state, so that a batch
        # takes one UPDATE per kind of outcome rather than one per delivery.
        for (state, attempts, error), ids in settled.items():
            session.execute(
                update(table)
                .where(table.c.id.in_(ids), open_)
                .values(state=state, attempts=attempts, last_error=error, **released)
            )
        if retried:  # each has its own next attempt
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), open_)
                .values(
                    state=bindparam("b_state"),
                    attempts=bindparam("b_attempts"),
                    last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"),
                    **released,
                ),
                retried,
            )

    def versions(self, webhook_ids: Iterable[str]) -> dict[str, dt.datetime]:
        """When each of the webhooks was last changed (absent: deleted), for the worker's cache."""
        with self.db.session() as session:
            return self._versions(session, webhook_ids)

    @staticmethod
    def _versions(session: Session, webhook_ids: Iterable[str]) -> dict[str, dt.datetime]:
        ids = list(webhook_ids)
        if not ids:
            return {}
        return {
            str(wid): changed
            for wid, changed in session.execute(
                select(Webhook.id, Webhook.updated_at).where(Webhook.id.in_(ids))
            )
        }


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt as the worker logs it: the fields of a :class:`DeliveryAttempt` row, without
    the cost of building an ORM object per delivery on the worker's hot path."""

    status_code: int | None
    duration_ms: int
    error: str
    response_excerpt: str
    worker: str
    attempted_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The outcome of one attempt, as :meth:`WebhookService.finish_many` records it."""

    delivery_id: str
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    error: str
    attempt: AttemptRecord | DeliveryAttempt
