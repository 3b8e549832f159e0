"""The audit table refuses updates and deletes through the application's own paths."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from credgate.container import Container
from credgate.core.audit.models import AuditEvent, AuditTrailIsAppendOnly
from credgate.core.audit.services import Actor, record

ACTOR = Actor("tests", "pytest")


def _first_id(container: Container) -> int:
    with container.db.session() as session:
        record(session, ACTOR, "test.event", "test", "x", ["name"])
    with container.db.session() as session:
        found = session.scalar(select(AuditEvent.id).where(AuditEvent.action == "test.event"))
        assert found is not None
        return found


def _count(container: Container) -> int:
    with container.db.session() as session:
        return len(session.scalars(select(AuditEvent)).all())


def test_orm_update_and_delete_are_refused(container: Container) -> None:
    event_id = _first_id(container)
    before = _count(container)
    with container.db.session() as session:
        row = session.get(AuditEvent, event_id)
        assert row is not None
        row.actor = "someone else"
        with pytest.raises(AuditTrailIsAppendOnly):
            session.flush()
        session.rollback()
    with pytest.raises(AuditTrailIsAppendOnly), container.db.session() as session:
        session.delete(session.get(AuditEvent, event_id))
    with container.db.session() as session:
        row = session.get(AuditEvent, event_id)
        assert row is not None
        assert row.actor == "tests"
    assert _count(container) == before


def test_bulk_update_and_delete_are_refused(container: Container) -> None:
    _first_id(container)
    before = _count(container)
    statements = [
        update(AuditEvent).values(actor="x"),
        update(AuditEvent).where(AuditEvent.id > 0).values(fields=[]),
        delete(AuditEvent),
        delete(AuditEvent).where(AuditEvent.action == "test.event"),
    ]
    for statement in statements:
        with pytest.raises(AuditTrailIsAppendOnly), container.db.session() as session:
            session.execute(statement)
    with pytest.raises(AuditTrailIsAppendOnly), container.db.session() as session:
        session.query(AuditEvent).delete()
    with pytest.raises(AuditTrailIsAppendOnly), container.db.session() as session:
        session.query(AuditEvent).update({"actor": "x"})
    assert _count(container) == before
    with container.db.session() as session:
        assert set(session.scalars(select(AuditEvent.actor))) <= {"tests", "credgate"}


def test_appending_still_works(container: Container) -> None:
    before = _count(container)
    with container.db.session() as session:
        record(session, ACTOR, "test.more", "test", "y")
    assert _count(container) == before + 1
