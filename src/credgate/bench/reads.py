"""Platform reads against the smallest route on the same server.

One server process (``credgate.bench.serve``: credgate with the baselines mounted by the
harness); wrk drives ``GET /_bench/minimal`` (a constant JSON answer, no credgate code) and
``GET /api/v1/workflows`` with a valid bearer token alternately, ``rounds`` times each. Each
round's ratio is workflows/minimal; the median of the rounds is printed.
Target: workflows/s >= 0.3 x minimal/s.
"""

from __future__ import annotations

import base64
import statistics
import time
from functools import partial

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
from credgate.bench.serve import MINIMAL

TARGET = 0.3
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
    with server() as srv:
        headers = {"Authorization": f"Bearer {listed_workflows(srv)}"}
        url, baseline = f"{srv.url}/api/v1/workflows", f"{srv.url}{MINIMAL}"
        size = len(httpx.get(url, headers=headers, timeout=10).content)
        run_wrk("warm-up", url, headers=headers, seconds=2, connections=connections)
        run_wrk("warm-up", baseline, seconds=2, connections=connections)
        minimal, reads = alternate(
            rounds,
            partial(run_wrk, f"GET {MINIMAL}", baseline, seconds=seconds, connections=connections),
            partial(
                run_wrk,
                "GET /api/v1/workflows",
                url,
                headers=headers,
                seconds=seconds,
                connections=connections,
            ),
        )
    minimal_rps, reads_rps = medians(minimal, reads)
    # Both loads run back to back in each round: the median of the per-round ratios follows a
    # shared machine's drifting load less than the ratio of the medians does.
    pairs = [
        r.requests_per_second / m.requests_per_second for r, m in zip(reads, minimal, strict=True)
    ]
    ratio = statistics.median(pairs)
    print(f"\nminimal route (median)      {minimal_rps:>10,.0f} req/s")
    print(
        f"/api/v1/workflows (median)  {reads_rps:>10,.0f} req/s   ({WORKFLOWS} workflows, {size} bytes)"
    )
    print(f"per-round ratios: {', '.join(f'{p:.3f}' for p in pairs)}")
    print(
        f"ratio workflows/minimal = {ratio:.3f} (median of rounds; ratio of medians "
        f"{reads_rps / minimal_rps:.3f})   target >= {TARGET}   "
        f"{verdict(ratio, TARGET)}"
    )
    warn_failures([*minimal, *reads])
    return ratio


def cli() -> None:
    main(**vars(options(__doc__, seconds=3, rounds=7, connections=32).parse_args()))


if __name__ == "__main__":
    cli()
