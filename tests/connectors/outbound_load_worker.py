"""A sending worker process of the renewal load test (run as a script, not collected).

Opens its own :class:`Container` on the database named by ``CREDGATE_*``, waits until
``LOAD_START_AT`` (POSIX time), then runs ``LOAD_SENDERS`` concurrent senders for
``LOAD_DURATION`` seconds against ``LOAD_URL`` through ``container.connections``, and prints the
status counts as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter

from credgate.connectors.connections import Connections
from credgate.container import Container
from credgate.core.config import load_settings

PAUSE = 0.1  # between two requests of one sender


async def send(
    outbound: Connections, credential_id: str, url: str, senders: int, duration: float
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    end = time.monotonic() + duration

    async def sender() -> None:
        async with outbound.http_client(credential_id) as client:
            while time.monotonic() < end:
                try:
                    response = await client.get(url)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    counts[type(exc).__name__] += 1
                else:
                    counts[str(response.status_code)] += 1
                await asyncio.sleep(PAUSE)

    await asyncio.gather(*(sender() for _ in range(senders)))
    return dict(counts)


def main() -> None:
    container = Container.open(load_settings())
    try:
        delay = float(os.environ["LOAD_START_AT"]) - time.time()
        if delay > 0:
            time.sleep(delay)
        counts = asyncio.run(
            send(
                container.connections,
                os.environ["LOAD_CREDENTIAL_ID"],
                os.environ["LOAD_URL"],
                int(os.environ["LOAD_SENDERS"]),
                float(os.environ["LOAD_DURATION"]),
            )
        )
    finally:
        container.close()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
