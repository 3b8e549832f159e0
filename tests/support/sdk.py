"""What the SDK's token tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def concurrent_rounds(
    client: Any, token_requests: Callable[[], int], check: Callable[[list[Any]], None]
) -> list[tuple[int, float]]:
    """Three rounds of 100 concurrent ``list_workflows`` calls on ``client`` (an ``AsyncClient``),
    each answer list passed to ``check``; each round after the first starts once the last round's
    token is due for renewal (it may have been fetched late in that round on a loaded machine).

    Answers each round's token requests (counted by ``token_requests``) and its duration.
    """
    rounds: list[tuple[int, float]] = []
    for round_number in range(3):
        if round_number:
            for _ in range(500):
                if client._auth.flow.current() is None:
                    break
                await asyncio.sleep(0.01)
        before = token_requests()
        started = time.monotonic()
        results = await asyncio.gather(*(client.list_workflows() for _ in range(100)))
        took = time.monotonic() - started
        check(results)
        rounds.append((token_requests() - before, took))
    return rounds
