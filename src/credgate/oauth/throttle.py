"""Slowing down, then refusing, repeated failed client authentication.

Failures are counted per client id and per address in a fixed window, in the database so that
every node behind a load balancer sees the same count. After ``slowdown_after`` failures each
further failure answers a little later; at ``limit`` the key is refused with 429 and
``Retry-After`` for ``lockout`` seconds.

Only failures touch the database. A request whose client authenticates is never slowed, and is
refused only when its *address* is locked out: a locked client id does not lock out the real
client, which still presents the right secret (otherwise anyone who knows a client id could lock
its integration out).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import anyio.to_thread
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from credgate.cluster.models import AuthFailure
from credgate.db import Database

__all__ = ["AuthThrottle", "DatabaseFailureStore", "FailureVerdict", "MemoryFailureStore"]


@dataclass(frozen=True, slots=True)
class Policy:
    limit: int
    slowdown_after: int
    window: int
    lockout: int


@dataclass(frozen=True, slots=True)
class FailureVerdict:
    delay: float
    retry_after: int | None


class FailureStore(Protocol):
    def add(self, key: str, now: float, policy: Policy) -> tuple[int, float | None]:
        """Count one failure; return (failures in the window, blocked until or None)."""


class MemoryFailureStore:
    """For a single node, and for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[float, int, float | None]] = {}

    def add(self, key: str, now: float, policy: Policy) -> tuple[int, float | None]:
        with self._lock:
            start, count, blocked = self._rows.get(key, (now, 0, None))
            if now - start >= policy.window and (blocked is None or blocked <= now):
                start, count, blocked = now, 0, None
            count += 1
            if count >= policy.limit:
                blocked = now + policy.lockout
            self._rows[key] = (start, count, blocked)
            return count, blocked


class DatabaseFailureStore:
    """Shared by every node through the ``auth_failures`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, key: str, now: float, policy: Policy) -> tuple[int, float | None]:
        for attempt in range(3):
            try:
                return self._add(key, now, policy)
            except IntegrityError:  # two nodes inserted the first failure at once
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _add(self, key: str, now: float, policy: Policy) -> tuple[int, float | None]:
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        with self._db.session() as session:
            row = session.get(AuthFailure, key, with_for_update=True)
            if row is None:
                row = AuthFailure(key=key, window_start=moment, failures=0)
                session.add(row)
            expired_window = (moment - row.window_start).total_seconds() >= policy.window
            still_blocked = row.blocked_until is not None and row.blocked_until > moment
            if expired_window and not still_blocked:
                row.window_start, row.failures, row.blocked_until = moment, 0, None
            row.failures += 1
            if row.failures >= policy.limit:
                row.blocked_until = moment + dt.timedelta(seconds=policy.lockout)
            session.flush()
            blocked = row.blocked_until.timestamp() if row.blocked_until else None
            return row.failures, blocked

    def prune(self, older_than: float) -> None:
        cutoff = dt.datetime.fromtimestamp(time.time() - older_than, dt.UTC)
        with self._db.session() as session:
            session.execute(
                delete(AuthFailure).where(
                    AuthFailure.window_start < cutoff,
                    (AuthFailure.blocked_until.is_(None)) | (AuthFailure.blocked_until < cutoff),
                )
            )


class AuthThrottle:
    def __init__(
        self,
        store: FailureStore,
        *,
        limit: int,
        slowdown_after: int,
        window: int,
        lockout: int,
    ) -> None:
        self._store = store
        self.policy = Policy(limit, slowdown_after, window, lockout)
        self._blocked: dict[str, float] = {}  # this node's view of locked keys

    def retry_after(self, key: str, now: float | None = None) -> int | None:
        """Seconds until ``key`` may try again, or None. A dictionary lookup: no I/O."""
        until = self._blocked.get(key)
        if until is None:
            return None
        now = time.time() if now is None else now
        if until <= now:
            self._blocked.pop(key, None)
            return None
        return int(until - now) + 1

    def _record(self, keys: list[str], now: float) -> FailureVerdict:
        worst = 0
        retry: int | None = None
        for key in keys:
            failures, blocked = self._store.add(key, now, self.policy)
            worst = max(worst, failures)
            if blocked is not None and blocked > now:
                self._blocked[key] = blocked
                retry = max(retry or 0, int(blocked - now) + 1)
        over = worst - self.policy.slowdown_after
        delay = 0.0 if over <= 0 else min(1.0, 0.05 * (2 ** min(over, 10)))
        return FailureVerdict(delay=delay, retry_after=retry)

    async def failed(self, keys: list[str]) -> FailureVerdict:
        return await anyio.to_thread.run_sync(self._record, keys, time.time())
