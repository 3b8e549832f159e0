"""Slowing down, then refusing, repeated failed authentication.

Failures are counted per key in a fixed window, in the database so that every node behind a
load balancer sees the same count. After ``slowdown_after`` failures each further failure
answers a little later; at ``limit`` the key is refused with 429 and ``Retry-After`` for
``lockout`` seconds. Each key may have its own :class:`Policy`.

Only failures touch the database. What a refused key means is up to the caller: the token
endpoint checks a client's secret before it looks at any refusal, so a valid secret is never
refused (see :class:`credgate.oauth.rfc6749.ClientAuthenticator`); password sign-ins are guarded
by :class:`credgate.security.lockout.LoginGuard`.

Addresses are counted by network (:func:`network_of`): an IPv6 host picks new addresses within
its /64 at will, so counting single IPv6 addresses would count nothing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import anyio.to_thread
from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError

from credgate.core.db import Database
from credgate.security.models import AuthFailure

__all__ = [
    "AuthThrottle",
    "DatabaseFailureStore",
    "FailureVerdict",
    "MemoryFailureStore",
    "Policy",
    "network_of",
]

_MAX_NETWORK = 64


def network_of(address: str) -> str:
    """The network an address is counted (and remembered) as.

    An IPv4 address stands for itself: addresses are scarce, and one address of a cloud
    provider's /24 says nothing about its neighbours, which may be other customers. An IPv6
    address stands for its /64, the one subnet a site or host is given and within which it
    picks new (privacy) addresses at will (RFC 8981). An IPv4-mapped IPv6 address is its IPv4
    address. Anything else (a test client's name, a socket path) is kept as it is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:_MAX_NETWORK]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip.packed, 64), strict=False))
    return str(ip)


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
    failures: Mapping[str, int] = field(default_factory=dict)
    """The count of each key after this failure."""


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
            if self._db.is_sqlite:
                # SQLite has no row locks, and pysqlite begins its transaction only at the first
                # write: two failures counted at once would read the same count and one would be
                # lost. Taking the database's write lock first serialises them.
                session.execute(text("BEGIN IMMEDIATE"))
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

    def _record(self, keys: Iterable[str | tuple[str, Policy]], now: float) -> FailureVerdict:
        delay = 0.0
        retry: int | None = None
        counts: dict[str, int] = {}
        for item in keys:
            key, policy = (item, self.policy) if isinstance(item, str) else item
            failures, blocked = self._store.add(key, now, policy)
            counts[key] = failures
            if blocked is not None and blocked > now:
                self._blocked[key] = blocked
                retry = max(retry or 0, int(blocked - now) + 1)
            over = failures - policy.slowdown_after
            if over > 0:
                delay = max(delay, min(1.0, 0.05 * (2 ** min(over, 10))))
        return FailureVerdict(delay=delay, retry_after=retry, failures=counts)

    def record(self, keys: Iterable[str | tuple[str, Policy]], now: float) -> FailureVerdict:
        """Count one failure against each key (blocking: for use off the event loop).

        A key given alone is counted under this throttle's own policy; ``(key, policy)`` under
        ``policy``.
        """
        return self._record(keys, now)

    async def failed(self, keys: Iterable[str | tuple[str, Policy]]) -> FailureVerdict:
        return await anyio.to_thread.run_sync(self._record, list(keys), time.time())
