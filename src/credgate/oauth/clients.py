"""The client registry: what the token endpoint and bearer checks know about each client.

Records are cached per node, so a token request costs no database round-trip. A change to a
client (edit, disable, delete, new secret) evicts it: at once on the node that made it, and on
every other node at its next poll of the change log.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread

from credgate.security.secrets import SecretHasher

__all__ = ["CLIENT_CHANGE", "ClientRecord", "ClientRegistry", "ClientStore"]


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    name: str
    permissions: frozenset[str]
    disabled: bool
    # (keyed hash, expiry as a UNIX time or None): one entry, or two during an overlap window.
    secret_hashes: tuple[tuple[str, float | None], ...] = field(repr=False)
    # The client's own rate limit (``60/minute``) for every API family, or None: the family's.
    rate_limit: str | None = None

    def check_secret(self, hasher: SecretHasher, secret: str, now: float) -> bool:
        """Constant-time check against every live secret; all are compared, whatever matches."""
        candidate = hasher.hash(secret)
        ok = False
        for stored, expires in self.secret_hashes:
            match = hmac.compare_digest(candidate, stored)
            ok |= match and (expires is None or expires > now)
        return ok

    @property
    def active(self) -> bool:
        return not self.disabled


ClientStore = Callable[[str], "ClientRecord | None"]
"""Loads one client's record from storage (blocking; run off the event loop), or None when
there is no such client. The feature that keeps clients implements it."""

CLIENT_CHANGE = "client"
"""The change-log kind that evicts a client (key: its client id) on every node."""


_MISSING = object()


class ClientRegistry:
    """A per-node cache of client records, kept current by the change log."""

    def __init__(self, loader: ClientStore, *, max_entries: int = 100_000) -> None:
        self._load = loader
        self._records: dict[str, ClientRecord | None] = {}
        self._max = max_entries
        self._epoch = 0  # bumped by every eviction; a load that raced one is not cached
        self.loads = 0

    def on_change(self, kind: str, key: str) -> None:
        if kind == CLIENT_CHANGE:
            self.evict(key)

    def evict(self, client_id: str) -> None:
        self._epoch += 1
        self._records.pop(client_id, None)

    def clear(self) -> None:
        self._epoch += 1
        self._records.clear()

    def _store(self, client_id: str, record: ClientRecord | None, epoch: int) -> None:
        if epoch != self._epoch:
            return
        if len(self._records) >= self._max:
            self._records.clear()
        self._records[client_id] = record

    def cached(self, client_id: str) -> ClientRecord | None:
        """The record this node holds for ``client_id``, or None (unknown, or not loaded yet)."""
        return self._records.get(client_id)

    def get(self, client_id: str) -> ClientRecord | None:
        """Blocking lookup (for use off the event loop)."""
        hit = self._records.get(client_id, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        epoch = self._epoch
        record = self._load(client_id)
        self.loads += 1
        self._store(client_id, record, epoch)
        return record

    async def aget(self, client_id: str) -> ClientRecord | None:
        """Lookup from the event loop: a cache hit costs a dict lookup, a miss a worker thread."""
        hit = self._records.get(client_id, _MISSING)
        if hit is not _MISSING:
            return hit  # type: ignore[return-value]
        epoch = self._epoch
        record = await anyio.to_thread.run_sync(self._load, client_id)
        self.loads += 1
        self._store(client_id, record, epoch)
        return record
