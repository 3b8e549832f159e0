"""The client registry: what the token endpoint and bearer checks know about each client.

Records are cached per node, so a token request costs no database round-trip. A change to a
client (edit, disable, delete, new secret) evicts it: at once on the node that made it, and on
every other node at its next poll of the change log.

Clients this node has not seen yet are loaded in batches: the first miss starts a load at once,
and the misses that arrive while it runs wait for the next one, so a burst of new clients costs
one query per batch rather than one thread hop and one query each.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio.to_thread

from credgate.security.secrets import SecretHasher

__all__ = ["CLIENT_CHANGE", "BatchClientStore", "ClientRecord", "ClientRegistry", "ClientStore"]


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

BatchClientStore = Callable[[Sequence[str]], Mapping[str, "ClientRecord"]]
"""Loads the records of several clients in one go (blocking); a client id missing from the
answer has no client."""

CLIENT_CHANGE = "client"
"""The change-log kind that evicts a client (key: its client id) on every node."""


_MISSING = object()


class ClientRegistry:
    """A per-node cache of client records, kept current by the change log."""

    def __init__(
        self,
        loader: ClientStore,
        *,
        batch_loader: BatchClientStore | None = None,
        max_entries: int = 100_000,
        batch_size: int = 500,
    ) -> None:
        self._load = loader
        self._load_many = batch_loader
        self._records: dict[str, ClientRecord | None] = {}
        self._max = max_entries
        self._batch_size = batch_size
        self._epoch = 0  # bumped by every eviction; a load that raced one is not cached
        self._waiting: dict[str, asyncio.Future[ClientRecord | None]] = {}
        self._queue: list[str] = []
        self._loader_task: asyncio.Task[None] | None = None  # held so it is not collected
        self._warming: set[str] | None = None  # evicted since the warm-up's load began
        self._clears = 0
        self.loads = 0

    def on_change(self, kind: str, key: str) -> None:
        if kind == CLIENT_CHANGE:
            self.evict(key)

    def evict(self, client_id: str) -> None:
        self._epoch += 1
        self._records.pop(client_id, None)
        warming = self._warming
        if warming is not None:
            warming.add(client_id)

    def clear(self) -> None:
        self._epoch += 1
        self._clears += 1
        self._records.clear()

    async def warm(self, load_recent: Callable[[int], Mapping[str, ClientRecord]]) -> int:
        """Fill up to half the cache with the records ``load_recent(limit)`` loads (off the event
        loop); answer how many were added.

        A starting node's first token requests then find their clients cached instead of
        waiting for a load each. What the load read may be outdated by the time it is stored: a
        record cached or evicted meanwhile is left as it is, and a clear drops the whole load.
        The other half of the cache is left for the clients that are not among them.
        """
        evicted: set[str] = set()
        self._warming, clears = evicted, self._clears
        try:
            found = await anyio.to_thread.run_sync(load_recent, self._max // 2)
            if clears != self._clears:
                return 0
            self.loads += 1
            records, room = self._records, self._max // 2 - len(self._records)
            added: list[str] = []
            for client_id, record in found.items():
                if len(added) >= room:
                    break
                if client_id not in evicted and client_id not in records:
                    records[client_id] = record
                    added.append(client_id)
        finally:
            self._warming = None
        # The change log is applied on a worker thread: an eviction may have slipped in between
        # a check above and its store.
        late = evicted.intersection(added)
        for client_id in late:
            records.pop(client_id, None)
        return len(added) - len(late)

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
        if self._load_many is None:
            epoch = self._epoch
            record = await anyio.to_thread.run_sync(self._load, client_id)
            self.loads += 1
            self._store(client_id, record, epoch)
            return record
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get(client_id)
        if waiting is None or waiting.get_loop() is not loop:
            waiting = self._waiting[client_id] = loop.create_future()
            self._queue.append(client_id)
        task = self._loader_task
        if task is None or task.done() or task.get_loop() is not loop:
            self._loader_task = loop.create_task(self._load_queued())
        # A cancelled request must not cancel the load that other requests wait for.
        return await asyncio.shield(waiting)

    async def _load_queued(self) -> None:
        load_many = self._load_many
        if load_many is None:
            return
        while self._queue:
            batch = self._queue[: self._batch_size]
            del self._queue[: self._batch_size]
            epoch = self._epoch
            try:
                found = await anyio.to_thread.run_sync(load_many, batch)
            except Exception as exc:  # noqa: BLE001 -- every waiter sees the failure, not a hang
                for client_id in batch:
                    self._settle(client_id, exc)
                continue
            self.loads += 1
            for client_id in batch:
                record = found.get(client_id)
                self._store(client_id, record, epoch)
                self._settle(client_id, record)

    def _settle(self, client_id: str, outcome: ClientRecord | Exception | None) -> None:
        waiting = self._waiting.pop(client_id, None)
        if waiting is None or waiting.done() or waiting.get_loop().is_closed():
            return
        if isinstance(outcome, Exception):
            waiting.set_exception(outcome)
        else:
            waiting.set_result(outcome)
