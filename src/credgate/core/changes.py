"""The change log: how a change on one node reaches the caches of every other node.

A service that changes something another node may have cached appends a row in the same
transaction (:func:`publish`). Every node polls :func:`read_since` every
``sync_interval_seconds`` and drops what changed. The node that made the change also drops it at
once, through the listeners of its :class:`ChangeFeed`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from credgate.core.db import Database, utcnow
from credgate.core.models import Change

__all__ = ["ChangeFeed", "publish"]

Listener = Callable[[str, str], None]


def publish(session: Session, kind: str, key: str) -> None:
    session.add(Change(kind=kind, key=key))


class ChangeFeed:
    """Reads the change log forward from where this node started, and fans changes out."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners: list[Listener] = []
        with db.session() as session:
            self.last_seq: int = session.scalar(select(func.max(Change.seq))) or 0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def notify_local(self, kind: str, key: str) -> None:
        """Tell this node's caches at once (the poll will repeat it, harmlessly)."""
        for listener in self._listeners:
            listener(kind, key)

    def poll(self) -> int:
        """Apply every change since the last poll; return how many there were. Blocking."""
        with self._db.session() as session:
            rows: Sequence[Change] = session.scalars(
                select(Change).where(Change.seq > self.last_seq).order_by(Change.seq).limit(10000)
            ).all()
            changes = [(row.seq, row.kind, row.key) for row in rows]
        for seq, kind, key in changes:
            self.notify_local(kind, key)
            self.last_seq = seq
        return len(changes)

    def prune(self, older_than: dt.timedelta = dt.timedelta(hours=1)) -> None:
        with self._db.session() as session:
            session.execute(delete(Change).where(Change.created_at < utcnow() - older_than))
