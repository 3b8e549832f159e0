"""Clients this node has not seen are loaded in batches, not one query and thread hop each."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from credgate.apicredentials.services import client_records, client_store
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
