"""Tables of the outbound connectors: webhooks, their delivery queue and log, exporters and runs.

``webhook_deliveries`` is the outbox: a row is written in the same transaction as the platform
request that caused it, and workers claim rows (``claimed_by``/``claim_until``) to deliver them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow
from credgate.core.paging import Page, PageRequest, keyset_page
from credgate.security.rotation import sealed_column

__all__ = [
    "Claimable",
    "DeliveryAttempt",
    "Exporter",
    "ExporterRun",
    "Webhook",
    "WebhookDelivery",
    "WebhookSecret",
    "page_by_name",
    "signing_secret_context",
]


def signing_secret_context(webhook_id: str) -> str:
    """The vault context of a webhook's signing secret."""
    return f"webhook:{webhook_id}:signing_secret"


class Claimable:
    """Rows a worker claims (``claimed_by``) for a lease (``claim_until``) to work on them."""

    id: Mapped[str]
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claim_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @classmethod
    def unclaimed(cls, now: dt.datetime) -> ColumnElement[bool]:
        """Rows no worker holds at ``now``."""
        return cls.claim_until.is_(None) | (cls.claim_until < now)

    @classmethod
    def claim(
        cls,
        session: Session,
        due: Select[str],
        token: str,
        until: dt.datetime,
        *,
        postgresql: bool,
        returning: Sequence[ColumnElement[Any]] = (),
    ) -> Sequence[Row[Any]] | None:
        """Claim the rows whose ids ``due`` selects under ``token`` until ``until``.

        PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the claiming UPDATE, so two
        workers never take the same row. SQLite: the UPDATE is atomic (one writer at a time).

        With ``returning`` columns, where the database can return them from the UPDATE (SQLite
        from 3.35), answers them for the rows claimed, in no particular order; otherwise None,
        and the caller reads the rows held under ``token``.
        """
        if postgresql:
            due = due.with_for_update(skip_locked=True)
        table = cast(Table, cls.__table__)  # type: ignore[attr-defined]
        statement = (
            update(table)
            .where(table.c.id.in_(due.scalar_subquery()))
            .values(claimed_by=token, claim_until=until)
        )
        if returning and session.get_bind().dialect.update_returning:
            return session.execute(statement.returning(*returning)).all()
        session.execute(statement)
        return None


class Webhook(Base):
    """A request sent to a connector credential's tool when a platform event happens.

    ``credential_id`` is deliberately not a foreign key: deleting the credential leaves the
    webhook in place, and its deliveries then fail with "credential missing".
    """

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    credential_id: Mapped[str] = mapped_column(String(36), index=True)
    method: Mapped[str] = mapped_column(String(8))
    resource: Mapped[str] = mapped_column(String(2048))
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    payload_template: Mapped[str] = mapped_column(Text, default="")
    triggers: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Webhook(id={self.id!r}, name={self.name!r})"


class WebhookSecret(Base):
    """A webhook's signing secret (``whsec_...``), sealed by the vault; never the plaintext."""

    __tablename__ = "webhook_secrets"

    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    ciphertext: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"WebhookSecret(webhook_id={self.webhook_id!r})"


class WebhookDelivery(Claimable, Base):
    """One event for one webhook; ``id`` is the ``webhook-id`` header, the same on each attempt.

    ``state``: pending, delivered, failed (after the last attempt; replayable) or cancelled.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_due", "state", "next_attempt_at"),
        # The log's order (newest first): a page of it reads the index, not a sort of the table.
        Index("ix_webhook_deliveries_log", "created_at", "id"),
        # The same order within one webhook, for the log filtered to it; it also serves every
        # other look-up by webhook_id (the cascade from webhooks). A state has no such index:
        # one more to write on every delivery and outcome costs the worker more than sorting
        # one state's rows costs the log (tests/outbound/test_outbound_delivery_log_plans.py).
        Index("ix_webhook_deliveries_webhook_log", "webhook_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(Base):
    """One attempt of a delivery: when, the answer's status, how long, the error, the first KB."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(100), default="")


class Exporter(Claimable, Base):
    """A saved NQL query's results sent on a schedule to SFTP or HTTPS.

    ``destination`` holds the SFTP ``directory`` and ``file_pattern``, or the HTTPS ``path`` and
    ``body`` (``json_lines``, ``json_array`` or ``json_object`` with ``array_key``).
    """

    __tablename__ = "exporters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    query_id: Mapped[str] = mapped_column(String(300))
    parameters: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    format: Mapped[str] = mapped_column(String(16))
    credential_id: Mapped[str] = mapped_column(String(36), index=True)
    destination: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    schedule: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExporterRun(Base):
    """One run of an exporter: when, how it was started, rows sent, where, and the error."""

    __tablename__ = "exporter_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exporter_id: Mapped[str] = mapped_column(
        ForeignKey("exporters.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    target: Mapped[str] = mapped_column(String(2048), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


SEALED_SIGNING_SECRETS = sealed_column(
    "webhook signing secret",
    WebhookSecret,
    ("webhook_id",),
    "ciphertext",
    lambda k: signing_secret_context(str(k["webhook_id"])),
)
"""How master-key rotation re-encrypts webhook signing secrets (:mod:`credgate.security.rotation`)."""


Named = TypeVar("Named", Webhook, Exporter)


def page_by_name(session: Session, model: type[Named], request: PageRequest) -> Page[Named]:
    """One page of webhooks or exporters, by their unique name; ``q`` finds a part of the name
    or of the id."""
    return keyset_page(
        session, select(model), request, order=[model.name], search=[model.name, model.id]
    )
