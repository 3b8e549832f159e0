"""Bearer protection: ``GET /api/v1/workflows`` with a valid token, against the same handler
mounted without protection, on one server process, in one run.

``credgate.bench.serve`` mounts ``/_bench/workflows``: the same handler with a bearer check that
lets anyone through. wrk drives both routes alternately, ``rounds`` times each; the median of the
per-round ratios is printed. Then both routes are called straight through the ASGI application,
with no sockets: much less noisy, and what the protection costs per request.
Target (SPEC section 10): protected >= 0.9 x unprotected.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import MutableMapping
from functools import partial
from typing import Any

import httpx

from credgate.bench._harness import (
    Server,
    alternate,
    medians,
    options,
    run_wrk,
    server,
    verdict,
    warn_failures,
)
from credgate.bench.reads import listed_workflows
from credgate.bench.serve import OPEN_WORKFLOWS

TARGET = 0.9
PROTECTED = "/api/v1/workflows"


def in_process(
    srv: Server, token: str, requests: int = 3000, rounds: int = 3
) -> tuple[float, float, float]:
    """Per-request cost of both routes called through the ASGI app, and of the guard alone, in
    microseconds (medians of ``rounds``): (open, protected, guard)."""
    from credgate.app import create_app
    from credgate.bench.serve import Baselines
    from credgate.container import Container
    from credgate.core.config import load_settings

    saved = dict(os.environ)
    os.environ.update(srv.env)
    try:
        container = Container.open(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    app = Baselines(create_app(container=container))

    async def call(path: str, auth: bool) -> None:
        headers = [(b"host", b"bench")]
        if auth:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope = {
            "type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": "",
        }  # fmt: skip
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))

        await app(scope, receive, send)
        if status != [200]:
            raise SystemExit(f"{path} answered {status} in process")

    async def per_request(path: str, auth: bool) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await call(path, auth)
        return (time.perf_counter() - started) / requests * 1e6

    async def run() -> tuple[float, float, float]:
        await call(PROTECTED, True)  # warm the caches
        open_us, protected_us = [], []
        for _ in range(rounds):
            open_us.append(await per_request(OPEN_WORKFLOWS, False))
            protected_us.append(await per_request(PROTECTED, True))
        guard = container.bearer_guard
        started = time.perf_counter()
        for _ in range(requests * 10):
            await guard.authorize(f"Bearer {token}", "workflows")
        guard_us = (time.perf_counter() - started) / (requests * 10) * 1e6
        return statistics.median(open_us), statistics.median(protected_us), guard_us

    try:
        return asyncio.run(run())
    finally:
        container.close()


def main(seconds: int = 3, rounds: int = 7, connections: int = 32) -> float:
    with server() as srv:
        token = listed_workflows(srv)
        headers = {"Authorization": f"Bearer {token}"}
        protected_url, open_url = f"{srv.url}{PROTECTED}", f"{srv.url}{OPEN_WORKFLOWS}"
        check = httpx.get(protected_url, headers=headers, timeout=10)
        same = httpx.get(open_url, timeout=10)
        if check.json() != same.json():
            raise SystemExit("the two routes must run the same handler")
        run_wrk("warm-up", protected_url, headers=headers, seconds=2, connections=connections)
        run_wrk("warm-up", open_url, seconds=2, connections=connections)
        load = partial(run_wrk, seconds=seconds, connections=connections)
        unprotected, protected = alternate(
            rounds,
            partial(load, f"GET {OPEN_WORKFLOWS} (open)", open_url),
            partial(load, f"GET {PROTECTED} (bearer)", protected_url, headers=headers),
        )
        open_us, protected_us, guard_us = in_process(srv, token)
    open_rps, protected_rps = medians(unprotected, protected)
    # Both loads run back to back in each round: the median of the per-round ratios follows a
    # shared machine's drifting load less than the ratio of the medians does.
    pairs = [
        p.requests_per_second / o.requests_per_second
        for p, o in zip(protected, unprotected, strict=True)
    ]
    ratio = statistics.median(pairs)
    print(f"\nunprotected (median) {open_rps:>10,.0f} req/s")
    print(f"protected (median)   {protected_rps:>10,.0f} req/s")
    print(f"per-round ratios: {', '.join(f'{p:.3f}' for p in pairs)}")
    print(
        f"ratio protected/unprotected = {ratio:.3f} (median of rounds; ratio of medians "
        f"{protected_rps / open_rps:.3f})   target >= {TARGET}   {verdict(ratio, TARGET)}"
    )
    print(
        f"\nin process (no sockets): open {open_us:.1f} us/request, protected "
        f"{protected_us:.1f} us/request, ratio (open/protected time) "
        f"{open_us / protected_us:.3f}; the guard alone {guard_us:.2f} us per cached check"
    )
    warn_failures([*unprotected, *protected])
    return ratio


def cli() -> None:
    main(**vars(options(__doc__, seconds=3, rounds=7, connections=32).parse_args()))


if __name__ == "__main__":
    cli()
