"""The token model, the store interface it lives in, and the cross-process lease.

A :class:`TokenStore` holds the current token of ONE connector credential. The
database-backed store keeps it encrypted; :class:`InMemoryTokenStore` serves tests
and single-process use.

The lease is what keeps N processes from renewing at once. It is expressed as two
non-blocking calls (:meth:`TokenStore.try_acquire_lease`,
:meth:`TokenStore.release_lease`) so that one store serves both the threaded and
the asyncio side: :func:`hold_lease` waits with ``time.sleep``, :func:`ahold_lease`
with ``asyncio.sleep``. A lease expires after ``ttl`` seconds, so a process that
dies while holding it blocks the others for at most that long.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._errors import RenewalError

__all__ = [
    "InMemoryTokenStore",
    "Token",
    "TokenStore",
    "ahold_lease",
    "hold_lease",
    "renewal_time",
]

#: Renew ``min(MAX_MARGIN, MARGIN_FRACTION * lifetime)`` seconds before expiry, so
#: a request never leaves with a token that expires on the way.
MAX_MARGIN = 60.0
MARGIN_FRACTION = 0.10
#: ...plus up to ``min(MAX_JITTER, JITTER_FRACTION * lifetime)`` more, drawn per
#: process and per token, so that processes sharing a token do not all reach for
#: the lease at the same instant.
MAX_JITTER = 5.0
JITTER_FRACTION = 0.05

_LEASE_POLL_FIRST = 0.005
_LEASE_POLL_MAX = 0.1


@dataclass(frozen=True, slots=True, repr=False)
class Token:
    """An access token as issued by an RFC 6749 §5.1 token response.

    Times are POSIX seconds (wall clock), because a stored token is read by other
    processes. ``expires_at`` is ``None`` when the server sent no ``expires_in``;
    such a token is renewed only when a resource answers 401.
    """

    access_token: str
    token_type: str = "Bearer"
    expires_at: float | None = None
    refresh_token: str | None = None
    scope: str | None = None
    obtained_at: float = field(default_factory=time.time)

    def __repr__(self) -> str:
        refresh = "[secure]" if self.refresh_token else None
        return (
            f"Token(access_token='[secure]', token_type={self.token_type!r}, "
            f"expires_at={self.expires_at!r}, refresh_token={refresh!r}, "
            f"scope={self.scope!r}, obtained_at={self.obtained_at!r})"
        )

    @property
    def lifetime(self) -> float | None:
        """Seconds between receipt and expiry, or ``None`` if unknown."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - self.obtained_at)

    def same_as(self, other: Token | None) -> bool:
        """True when ``other`` carries the same access token (constant time)."""
        if other is None:
            return False
        return hmac.compare_digest(self.access_token.encode(), other.access_token.encode())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a store to serialise (and encrypt: it holds secrets)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` naming a bad field."""
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("token field 'access_token' must be a non-empty string")
        for name in ("refresh_token", "scope"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"token field {name!r} must be a string or null")
        for name in ("expires_at", "obtained_at"):
            value = data.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"token field {name!r} must be a number or null")
        obtained_at = data.get("obtained_at")
        return cls(
            access_token=access_token,
            token_type=str(data.get("token_type") or "Bearer"),
            expires_at=None if data.get("expires_at") is None else float(data["expires_at"]),
            refresh_token=data.get("refresh_token"),
            scope=data.get("scope"),
            obtained_at=time.time() if obtained_at is None else float(obtained_at),
        )


def renewal_time(token: Token, *, jitter: bool = True) -> float:
    """When to renew ``token``: ahead of expiry by a margin plus a little jitter.

    The margin is ``min(60 s, 10 % of the lifetime)``; the jitter adds up to
    ``min(5 s, 5 % of the lifetime)``. A token without expiry is never due.
    """
    if token.expires_at is None:
        return float("inf")
    lifetime = token.lifetime or 0.0
    margin = min(MAX_MARGIN, MARGIN_FRACTION * lifetime)
    spread = min(MAX_JITTER, JITTER_FRACTION * lifetime)
    extra = secrets.SystemRandom().uniform(0.0, spread) if jitter and spread > 0 else 0.0
    return token.expires_at - margin - extra


@runtime_checkable
class TokenStore(Protocol):
    """Where the token of one connector credential lives, shared by processes.

    Implementations must be safe to call from several threads. Calls are short
    (one row read or written); the asyncio side runs them in a worker thread.
    """

    def load(self) -> Token | None:
        """The stored token, or ``None`` if there is none yet."""
        ...

    def save(self, token: Token) -> None:
        """Replace the stored token. Must be durable when it returns: a rotated
        refresh token is used again only after ``save`` has returned."""
        ...

    def try_acquire_lease(self, holder: str, ttl: float) -> bool:
        """Take the renewal lease for ``holder`` if it is free or expired.

        Atomic compare-and-set: succeed when nobody holds the lease, when the
        current lease expired (its ``ttl`` ran out), or when ``holder`` already
        holds it; then (re)start the lease for ``ttl`` seconds. Never blocks.
        """
        ...

    def release_lease(self, holder: str) -> None:
        """Give the lease back if ``holder`` holds it; otherwise do nothing."""
        ...


class InMemoryTokenStore:
    """A :class:`TokenStore` in process memory, guarded by a real lock.

    Several auth instances sharing one of these behave like several processes
    sharing a database row. ``saves`` counts :meth:`save` calls for tests.
    """

    def __init__(
        self, token: Token | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._token = token
        self._holder: str | None = None
        self._lease_until = 0.0
        self._clock = clock
        self.saves = 0

    def __repr__(self) -> str:
        return f"InMemoryTokenStore(has_token={self._token is not None})"

    def load(self) -> Token | None:
        with self._lock:
            return self._token

    def save(self, token: Token) -> None:
        with self._lock:
            self._token = token
            self.saves += 1

    def try_acquire_lease(self, holder: str, ttl: float) -> bool:
        with self._lock:
            now = self._clock()
            if self._holder not in (None, holder) and now < self._lease_until:
                return False
            self._holder = holder
            self._lease_until = now + ttl
            return True

    def release_lease(self, holder: str) -> None:
        with self._lock:
            if self._holder == holder:
                self._holder = None
                self._lease_until = 0.0


def _new_holder() -> str:
    return uuid.uuid4().hex


@contextmanager
def hold_lease(store: TokenStore, *, ttl: float, wait: float) -> Iterator[str]:
    """Hold the store's renewal lease (blocking, polling with backoff).

    Raises :class:`RenewalError` ``lease_timeout`` if it is not free within
    ``wait`` seconds.
    """
    holder = _new_holder()
    deadline = time.monotonic() + wait
    pause = _LEASE_POLL_FIRST
    while not store.try_acquire_lease(holder, ttl):
        if time.monotonic() >= deadline:
            raise RenewalError("lease_timeout")
        time.sleep(pause)
        pause = min(pause * 2, _LEASE_POLL_MAX)
    try:
        yield holder
    finally:
        store.release_lease(holder)


@asynccontextmanager
async def ahold_lease(store: TokenStore, *, ttl: float, wait: float) -> AsyncIterator[str]:
    """:func:`hold_lease` for asyncio: store calls run in a worker thread."""
    holder = _new_holder()
    deadline = time.monotonic() + wait
    pause = _LEASE_POLL_FIRST
    while not await asyncio.to_thread(store.try_acquire_lease, holder, ttl):
        if time.monotonic() >= deadline:
            raise RenewalError("lease_timeout")
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LEASE_POLL_MAX)
    try:
        yield holder
    finally:
        # Released inline: a cancelled task must not leave the lease behind.
        store.release_lease(holder)
