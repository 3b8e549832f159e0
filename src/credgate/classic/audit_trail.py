"""Reading the audit trail for the classic audit-trail API.

Three views of the same append-only entries (:class:`~credgate.core.audit.models.AuditEvent`):

- ``portal``: every administrative change made through credgate;
- ``engines``: changes to the engines registry;
- ``engine`` + name: changes to that one engine.

Filters: ``from``/``to`` (ISO 8601; a time without offset is UTC; ``from`` inclusive, ``to``
exclusive), paging by ``offset``/``limit``, oldest first. An entry names the fields that changed,
never their values, so nothing read here holds a secret.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, func, select

from credgate.core.audit.models import AuditEvent
from credgate.core.db import Database
from credgate.core.errors import FieldError, InvalidInputError

__all__ = ["AuditPage", "AuditQuery", "parse_instant", "read_audit_trail"]

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    scope: Literal["portal", "engines", "engine"]
    engine: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class AuditPage:
    total: int
    items: list[dict[str, Any]]


def parse_instant(field: str, value: str | None) -> dt.datetime | None:
    """An ISO 8601 date or date-time as an aware UTC datetime; names ``field`` when bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            [FieldError(field, f"{value!r} is not an ISO 8601 date-time")]
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _entry(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": event.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "user": event.actor,
        "source": event.source,
        "action": event.action,
        "objectType": event.object_type,
        "objectId": event.object_id,
        "fields": list(event.fields),
    }


def _filtered(query: AuditQuery) -> Select[AuditEvent]:
    stmt = select(AuditEvent)
    if query.scope in ("engines", "engine"):
        stmt = stmt.where(AuditEvent.object_type == "engine")
    if query.scope == "engine":
        stmt = stmt.where(AuditEvent.object_id == (query.engine or ""))
    if query.since is not None:
        stmt = stmt.where(AuditEvent.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEvent.at < query.until)
    return stmt


def read_audit_trail(db: Database, query: AuditQuery) -> AuditPage:
    errors = []
    if query.offset < 0:
        errors.append(FieldError("offset", "must be 0 or more"))
    if not 1 <= query.limit <= MAX_LIMIT:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
    if query.since and query.until and query.since > query.until:
        errors.append(FieldError("from", "must not be later than 'to'"))
    if errors:
        raise InvalidInputError(errors)
    stmt = _filtered(query)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(
            stmt.order_by(AuditEvent.at, AuditEvent.id).offset(query.offset).limit(query.limit)
        ).all()
        return AuditPage(total=total, items=[_entry(r) for r in rows])
