"""Platform reads: ``GET /api/v1/workflows`` with a valid token, on one server process
(``credgate.bench.serve``: credgate with the baselines mounted by the harness), against two
baselines, each in its own run, wrk driving both routes alternately ``rounds`` times; the median
of the per-round ratios is printed.

- :func:`main`: against ``GET /_bench/minimal`` (a constant JSON answer, no credgate code).
  Target: workflows/s >= 0.3 x minimal/s.
- :func:`bearer_main`: against ``/_bench/workflows``, the same handler with a bearer check that
  lets anyone through; then both called straight through the ASGI application, with no
  sockets: much less noisy, and what the protection costs per request.
  Target (SPEC section 10): protected >= 0.9 x unprotected.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import time
from collections.abc import MutableMapping
from typing import Any

import httpx

from credgate.bench._harness import (
    Server,
    alternate_gets,
    medians,
    options,
    paired_ratio,
    server,
)
from credgate.bench.serve import MINIMAL, OPEN_WORKFLOWS

TARGET = 0.3
BEARER_TARGET = 0.9
PROTECTED = "/api/v1/workflows"
WORKFLOWS = 5


def seed_workflows(srv: Server, count: int) -> None:
    from credgate.core.audit.services import Actor
    from credgate.platform.definitions import DefinitionService

    db, _hasher = srv.open_database()
    try:
        definitions = DefinitionService(db)
        for n in range(count):
            definitions.create(
                "workflow",
                {
                    "id": f"#bench_{n}",
                    "name": f"Bench workflow {n}",
                    "description": "Restarts a service on the device",
                    "triggerMethods": ["API", "MANUAL"],
                    "dependency": "DEVICE",
                    "versions": [{"versionNumber": 1, "isActive": True}],
                },
                actor=Actor("bench", "bench"),
            )
    finally:
        db.dispose()


def workflows_token(srv: Server) -> str:
    """A bearer token of a new credential holding the Workflows permission."""
    client_id, secret = srv.create_credential("bench", ["workflows"])
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    answer = httpx.post(
        f"{srv.url}/api/v1/token", headers={"Authorization": f"Basic {basic}"}, timeout=10
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def listed_workflows(srv: Server) -> str:
    """Seed the workflows, wait until the server lists them; a token that may read them."""
    seed_workflows(srv, WORKFLOWS)
    token = workflows_token(srv)
    url = f"{srv.url}/api/v1/workflows"
    deadline = time.monotonic() + 30
    while True:  # the server hears of the seeded workflows at its next change-log poll
        answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        answer.raise_for_status()
        if len(answer.json()) == WORKFLOWS:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"the server lists {len(answer.json())} workflows")
        time.sleep(0.2)
    if httpx.get(url, timeout=10).status_code != 401:
        raise SystemExit("the workflow list answered without a token")
    return token


def main(seconds: int = 3, rounds: int = 7, connections: int = 32) -> float:
    """Platform reads vs the smallest route on the same server (see the module)."""
    with server() as srv:
        headers = {"Authorization": f"Bearer {listed_workflows(srv)}"}
        url, baseline = f"{srv.url}/api/v1/workflows", f"{srv.url}{MINIMAL}"
        size = len(httpx.get(url, headers=headers, timeout=10).content)
        minimal, reads = alternate_gets(
            rounds,
            (f"GET {MINIMAL}", baseline, None),
            ("GET /api/v1/workflows", url, headers),
            seconds=seconds,
            connections=connections,
        )
    minimal_rps, reads_rps = medians(minimal, reads)
    print(f"\nminimal route (median)      {minimal_rps:>10,.0f} req/s")
    print(
        f"/api/v1/workflows (median)  {reads_rps:>10,.0f} req/s   ({WORKFLOWS} workflows, {size} bytes)"
    )
    return paired_ratio("workflows/minimal", reads, minimal, TARGET)


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


def bearer_main(seconds: int = 3, rounds: int = 7, connections: int = 32) -> float:
    """Bearer protection vs the same handler unprotected, on one server (see the module)."""
    with server() as srv:
        token = listed_workflows(srv)
        headers = {"Authorization": f"Bearer {token}"}
        protected_url, open_url = f"{srv.url}{PROTECTED}", f"{srv.url}{OPEN_WORKFLOWS}"
        check = httpx.get(protected_url, headers=headers, timeout=10)
        same = httpx.get(open_url, timeout=10)
        if check.json() != same.json():
            raise SystemExit("the two routes must run the same handler")
        unprotected, protected = alternate_gets(
            rounds,
            (f"GET {OPEN_WORKFLOWS} (open)", open_url, None),
            (f"GET {PROTECTED} (bearer)", protected_url, headers),
            seconds=seconds,
            connections=connections,
        )
        open_us, protected_us, guard_us = in_process(srv, token)
    open_rps, protected_rps = medians(unprotected, protected)
    print(f"\nunprotected (median) {open_rps:>10,.0f} req/s")
    print(f"protected (median)   {protected_rps:>10,.0f} req/s")
    ratio = paired_ratio("protected/unprotected", protected, unprotected, BEARER_TARGET)
    print(
        f"\nin process (no sockets): open {open_us:.1f} us/request, protected "
        f"{protected_us:.1f} us/request, ratio (open/protected time) "
        f"{open_us / protected_us:.3f}; the guard alone {guard_us:.2f} us per cached check"
    )
    return ratio


def cli() -> None:
    parser = options(main.__doc__ or "", seconds=3, rounds=7, connections=32)
    main(**vars(parser.parse_args()))


def bearer_cli() -> None:
    parser = options(bearer_main.__doc__ or "", seconds=3, rounds=7, connections=32)
    bearer_main(**vars(parser.parse_args()))


if __name__ == "__main__":
    cli()
