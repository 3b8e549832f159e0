"""Audit entries. The trail is append-only through the application's own paths.

Mapper events refuse a flush that would UPDATE or DELETE an :class:`AuditEvent`, and a
session-wide ``do_orm_execute`` hook refuses ORM bulk ``update(AuditEvent)`` and
``delete(AuditEvent)`` statements (``Query.update``/``Query.delete`` included).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Integer, String, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow

__all__ = ["AuditEvent", "AuditTrailIsAppendOnly"]


class AuditEvent(Base):
    """One administrative change. ``fields`` names what changed, never the values."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)


# Entries can only be appended ------------------------------------------------------------------


class AuditTrailIsAppendOnly(RuntimeError):
    """Raised when the application tries to change or remove an audit entry."""


def _refuse_row_change(_mapper: object, _connection: object, target: AuditEvent) -> None:
    raise AuditTrailIsAppendOnly(
        f"audit entry {target.id} cannot be changed or deleted: the audit trail is append-only"
    )


def _refuse_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    # An ORM statement holds an annotated copy of the table: compare by name.
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEvent.__tablename__:
        raise AuditTrailIsAppendOnly(
            "bulk UPDATE or DELETE of audit_events is refused: the audit trail is append-only"
        )


event.listen(AuditEvent, "before_update", _refuse_row_change)
event.listen(AuditEvent, "before_delete", _refuse_row_change)
event.listen(Session, "do_orm_execute", _refuse_bulk_change)
