"""Writing and reading the audit trail. Entries are only ever appended."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from credgate.core.audit.models import AuditEvent
from credgate.core.paging import Page, PageRequest, keyset_page

__all__ = ["Actor", "page_events", "recent", "record"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, and from where (an address, or ``cli``)."""

    name: str
    source: str = ""

    @classmethod
    def cli(cls) -> Actor:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(name=f"cli:{user}", source="cli")


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    fields: Iterable[str] = (),
) -> None:
    """Append an entry in the caller's transaction. ``fields`` are names, never values."""
    session.add(
        AuditEvent(
            actor=actor.name,
            source=actor.source,
            action=action,
            object_type=object_type,
            object_id=object_id,
            fields=sorted(fields),
        )
    )


def page_events(session: Session, request: PageRequest) -> Page[AuditEvent]:
    """One page of the trail, newest first; ``q`` finds a part of the action, the actor or the
    object id."""
    return keyset_page(
        session,
        select(AuditEvent),
        request,
        order=[AuditEvent.id],
        search=[AuditEvent.action, AuditEvent.actor, AuditEvent.object_id],
        descending=True,
    )


def recent(session: Session, limit: int = 100) -> Sequence[AuditEvent]:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).all()
