"""Clients this node has not seen are loaded in batches, not one query and thread hop each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from starlette.testclient import TestClient

from credgate.apicredentials.services import client_records, client_store, recent_client_records
from credgate.app import create_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.oauth.clients import ClientRecord, ClientRegistry

ACTOR = Actor("tests", "pytest")


def _create(container: Container, count: int) -> list[str]:
    return [
        container.api_credentials.create(
            name=f"cold {n}", permissions=["nql"], actor=ACTOR
        ).credential.client_id
        for n in range(count)
    ]


def test_a_burst_of_cold_clients_costs_a_few_batches(container: Container) -> None:
    ids = _create(container, 40)
    registry = ClientRegistry(client_store(container.db), batch_loader=client_records(container.db))

    async def burst() -> list[ClientRecord | None]:
        return await asyncio.gather(*(registry.aget(i) for i in [*ids, "nobody", *ids]))

    records = asyncio.run(burst())
    assert [r.client_id if r else None for r in records] == [*ids, None, *ids]
    assert all(r is not None and r.secret_hashes for r in records if r)
    # The first miss loads alone; every miss that arrived meanwhile shares the next load.
    assert registry.loads <= 2
    assert registry.cached(ids[-1]) is not None
    loads = registry.loads
    asyncio.run(burst())
    assert registry.loads == loads, "the second burst is served from the cache"


def test_a_failed_batch_fails_its_waiters_and_the_next_one_loads() -> None:
    calls: list[Sequence[str]] = []

    def flaky(client_ids: Sequence[str]) -> Mapping[str, ClientRecord]:
        calls.append(client_ids)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return {}

    registry = ClientRegistry(lambda _id: None, batch_loader=flaky)

    async def ask() -> list[object]:
        return await asyncio.gather(registry.aget("a"), registry.aget("b"), return_exceptions=True)

    first = asyncio.run(ask())
    assert any(isinstance(r, RuntimeError) for r in first)
    assert asyncio.run(ask()) == [None, None]


def test_an_eviction_during_a_load_is_not_undone(container: Container) -> None:
    ids = _create(container, 1)
    registry: ClientRegistry

    def load_then_evict(client_ids: Sequence[str]) -> Mapping[str, ClientRecord]:
        found = client_records(container.db)(client_ids)
        registry.evict(client_ids[0])  # a change arrives while the batch is read
        return found

    registry = ClientRegistry(client_store(container.db), batch_loader=load_then_evict)
    assert asyncio.run(registry.aget(ids[0])) is not None
    assert registry.cached(ids[0]) is None


def test_warming_caches_the_newest_clients_with_their_secrets(container: Container) -> None:
    ids = _create(container, 6)
    registry = ClientRegistry(
        client_store(container.db), batch_loader=client_records(container.db), max_entries=8
    )
    assert asyncio.run(registry.warm(recent_client_records(container.db))) == 4  # half of 8
    warmed = [i for i in ids if registry.cached(i) is not None]
    assert warmed == ids[2:], "the newest four"
    record = registry.cached(ids[-1])
    assert record is not None
    assert record.permissions == {"nql"}
    assert record.secret_hashes
    loads = registry.loads
    assert asyncio.run(registry.aget(ids[-1])) is record
    assert registry.loads == loads, "a warmed client needs no load"


def test_warming_keeps_what_changed_while_it_read(container: Container) -> None:
    ids = _create(container, 3)
    registry: ClientRegistry
    newer = ClientRecord(ids[1], "newer", frozenset(), disabled=True, secret_hashes=())

    def read_while_changes_arrive(limit: int) -> Mapping[str, ClientRecord]:
        found = recent_client_records(container.db)(limit)
        registry.evict(ids[0])  # a change to this client arrives while the load reads
        registry._records[ids[1]] = newer  # and this one was loaded afresh meanwhile
        return found

    registry = ClientRegistry(client_store(container.db), batch_loader=client_records(container.db))
    assert asyncio.run(registry.warm(read_while_changes_arrive)) >= 1
    assert registry.cached(ids[0]) is None
    assert registry.cached(ids[1]) is newer
    assert registry.cached(ids[2]) is not None


def test_a_clear_while_warming_drops_the_load(container: Container) -> None:
    _create(container, 2)
    registry: ClientRegistry

    def read_then_clear(limit: int) -> Mapping[str, ClientRecord]:
        found = recent_client_records(container.db)(limit)
        registry.clear()  # e.g. a signing-key or settings change that drops every record
        return found

    registry = ClientRegistry(client_store(container.db), batch_loader=client_records(container.db))
    assert asyncio.run(registry.warm(read_then_clear)) == 0
    assert len(registry._records) == 0


def test_a_starting_server_warms_its_caches(container: Container) -> None:
    ids = _create(container, 2)
    container.definitions.create("workflow", {"id": "#warm", "name": "Warm"}, actor=ACTOR)
    container.sync_once()  # as a node that starts after these changes, it has nothing to apply
    assert container.registry.cached(ids[0]) is None
    assert container.definitions.snapshot("workflow") is None
    with TestClient(create_app(container=container)):  # runs the lifespan
        deadline = time.monotonic() + 30
        while container.registry.cached(ids[0]) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(container.registry.cached(i) is not None for i in ids)
        deadline = time.monotonic() + 30
        while container.definitions.snapshot("workflow") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        snapshot = container.definitions.snapshot("workflow")
        assert snapshot is not None
        assert "#warm" in snapshot
