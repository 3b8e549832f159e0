"""Admin lists with 100k API credentials: the first page of the REST list, the UI list and the
CLI list, and ``/healthz`` while they are being served. Then the webhook delivery log with 100k
deliveries spread over 10 webhooks (``--webhooks``): its first page (REST and UI), a page 90%
of the way down by cursor, and, as the baseline in the same run, the same page read by OFFSET
(the way lists paged before cursors); then the log filtered to one webhook (its first page, and
a page 90% of the way down its deliveries by cursor) and to the failed deliveries (first page).

Targets: each first page under 200 ms (median of the rounds); ``/healthz`` under 50 ms (its
worst answer) while REST and UI lists are fetched in a loop; each deep page by cursor, like a
first page, under 200 ms.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx

from credgate.bench._harness import Server, bench_webhook, options, server

LIST_TARGET_MS = 200.0
HEALTH_TARGET_MS = 50.0
PASSWORD = "Bench-lists-7c4e1a9f"
_IN_PROCESS = """
import sys, time
from typer.testing import CliRunner
from credgate.cli import app
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["api-credentials", "list"])
    assert result.exit_code == 0, result.output
    print((time.perf_counter() - start) * 1000)
"""
# The /healthz prober runs as a process of its own: in the bench's process it would wait for the
# GIL behind the load threads' response parsing, and count that as the server's latency.
_PROBE = """
import sys, time
import httpx
with httpx.Client(base_url=sys.argv[1], timeout=60) as health:
    until = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < until:
        start = time.perf_counter()
        health.get("/healthz").raise_for_status()
        print((time.perf_counter() - start) * 1000, flush=True)
        time.sleep(0.01)
"""


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _sign_in(client: httpx.Client) -> None:
    page = client.get("/admin/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if not match:
        raise SystemExit("the sign-in page has no CSRF field")
    answer = client.post(
        "/admin/login",
        data={"username": "bench", "password": PASSWORD, "csrf_token": match.group(1)},
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def _ok(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


def _deep_cursor(api: httpx.Client, depth: int, filters: dict[str, str] | None = None) -> str:
    """The cursor ``depth`` rows down the delivery log (with ``filters``), walked to 500 rows
    at a time."""
    cursor: str | None = None
    walked = 0
    while walked < depth:
        step = min(500, depth - walked)
        params: dict[str, str | int] = {**(filters or {}), "limit": step}
        if cursor:
            params["cursor"] = cursor
        body = _ok(api.get("/admin/api/v1/deliveries", params=params)).json()
        cursor = body["next_cursor"]
        walked += step
        if cursor is None:
            raise SystemExit(f"the delivery log ended before row {depth}")
    assert cursor is not None
    return cursor


def _offset_page_ms(srv: Server, depth: int, rounds: int) -> list[float]:
    """The same deep page read by OFFSET, with its count, on the server's database."""
    from sqlalchemy import func, select

    from credgate.outbound.models import WebhookDelivery

    db, _hasher = srv.open_database()
    query = select(WebhookDelivery).order_by(
        WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()
    )
    try:

        def read() -> None:
            with db.session() as session:
                session.scalar(select(func.count()).select_from(WebhookDelivery))
                list(session.scalars(query.offset(depth).limit(51)))

        return [_timed(read) for _ in range(rounds)]
    finally:
        db.dispose()


def _keyset_page_ms(srv: Server, cursor: str, rounds: int) -> list[float]:
    """The deep page by cursor, through the service the REST list uses, on the same database."""
    from sqlalchemy import select

    from credgate.core.paging import PageRequest, keyset_page
    from credgate.outbound.models import WebhookDelivery

    db, _hasher = srv.open_database()
    wanted = PageRequest(limit=50, cursor=cursor)
    try:

        def read() -> None:
            with db.session() as session:
                keyset_page(
                    session,
                    select(WebhookDelivery),
                    wanted,
                    order=[WebhookDelivery.created_at, WebhookDelivery.id],
                    descending=True,
                )

        return [_timed(read) for _ in range(rounds)]
    finally:
        db.dispose()


def main(
    count: int = 100_000, rounds: int = 5, deliveries: int = 100_000, webhooks: int = 10
) -> bool:
    with server() as srv:
        started = time.perf_counter()
        srv.seed_credentials("bench", count, ["workflows", "nql"])
        print(f"seeded {count:,} API credentials in {time.perf_counter() - started:.1f} s")
        srv.env["CREDGATE_NEW_ADMIN_PASSWORD"] = PASSWORD
        srv.cli("admins", "create", "bench")
        token = srv.cli("admins", "token", "bench", "--json")
        bearer = re.search(r'"token": "([^"]+)"', token)
        if not bearer:
            raise SystemExit("no admin token")
        api = httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {bearer.group(1)}"}, timeout=60
        )
        ui = httpx.Client(base_url=srv.url, timeout=60)
        _sign_in(ui)

        def rest() -> httpx.Response:
            return _ok(api.get("/admin/api/v1/api-credentials"))

        def page() -> httpx.Response:
            return _ok(ui.get("/admin/api-credentials"))

        first = rest().json()
        html = page()
        print(
            f"REST first page: {len(first['items'])} of {first['total']:,}, "
            f"{len(rest().content):,} bytes; UI first page {len(html.content):,} bytes"
        )
        rest_ms = [_timed(rest) for _ in range(rounds)]
        ui_ms = [_timed(page) for _ in range(rounds)]

        env = {**srv.env, "PYTHONPATH": os.pathsep.join(sys.path)}
        command = [sys.executable, "-m", "credgate", "api-credentials", "list"]
        cli_ms = [
            _timed(
                lambda: subprocess.run(
                    command, env=env, cwd=srv.data_dir, check=True, capture_output=True
                )
            )
            for _ in range(rounds)
        ]
        # The same command in one process, after its imports: what the list itself costs.
        in_process = subprocess.run(
            [sys.executable, "-c", _IN_PROCESS, str(rounds)],
            env=env,
            cwd=srv.data_dir,
            check=True,
            capture_output=True,
            text=True,
        )
        command_ms = [float(v) for v in in_process.stdout.split()]

        # /healthz while REST and UI lists are served back to back on two other connections.
        stop = threading.Event()
        served = [0]

        def load(fetch: Callable[[], object]) -> None:
            while not stop.is_set():
                fetch()
                served[0] += 1

        workers = [threading.Thread(target=load, args=(f,), daemon=True) for f in (rest, page)]
        for worker in workers:
            worker.start()
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, srv.url, "5"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        health_ms = [float(v) for v in probe.stdout.split()]
        stop.set()
        for worker in workers:
            worker.join()

        started = time.perf_counter()
        srv.seed_deliveries(deliveries, webhooks)
        print(
            f"seeded {deliveries:,} deliveries over {webhooks} webhook(s) in "
            f"{time.perf_counter() - started:.1f} s"
        )

        def log() -> httpx.Response:
            return _ok(api.get("/admin/api/v1/deliveries"))

        def log_page() -> httpx.Response:
            return _ok(ui.get("/admin/deliveries"))

        log(), log_page()
        log_ms = [_timed(log) for _ in range(rounds)]
        log_ui_ms = [_timed(log_page) for _ in range(rounds)]
        depth = deliveries * 9 // 10
        deep = _deep_cursor(api, depth)

        def deep_log() -> httpx.Response:
            return _ok(api.get("/admin/api/v1/deliveries", params={"cursor": deep}))

        deep_log()
        deep_ms = [_timed(deep_log) for _ in range(rounds)]

        # One webhook's deliveries, and the failed ones: the filter narrows the rows, and the
        # page must still come off an index in the log's order rather than a sort of them all.
        one_hook = {"webhook": bench_webhook(0)}
        hook_rows = (deliveries + webhooks - 1) // webhooks
        hook_depth = hook_rows * 9 // 10
        hook_deep = _deep_cursor(api, hook_depth, one_hook)

        def hook_log() -> httpx.Response:
            return _ok(api.get("/admin/api/v1/deliveries", params=one_hook))

        def hook_deep_log() -> httpx.Response:
            params = {**one_hook, "cursor": hook_deep}
            return _ok(api.get("/admin/api/v1/deliveries", params=params))

        def failed_log() -> httpx.Response:
            return _ok(api.get("/admin/api/v1/deliveries", params={"state": "failed"}))

        hook_log(), hook_deep_log(), failed_log()
        hook_ms = [_timed(hook_log) for _ in range(rounds)]
        hook_deep_ms = [_timed(hook_deep_log) for _ in range(rounds)]
        failed_ms = [_timed(failed_log) for _ in range(rounds)]

        # Alternating rounds, so that a busy moment of the machine hits both alike.
        offset_ms: list[float] = []
        keyset_ms: list[float] = []
        for _ in range(rounds):
            offset_ms += _offset_page_ms(srv, depth, 1)
            keyset_ms += _keyset_page_ms(srv, deep, 1)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    rows = [
        ("REST first page (median ms)", median(rest_ms), LIST_TARGET_MS),
        ("UI first page (median ms)", median(ui_ms), LIST_TARGET_MS),
        ("CLI list command, in process (median ms)", median(command_ms), LIST_TARGET_MS),
        ("/healthz under list load (max ms)", max(health_ms), HEALTH_TARGET_MS),
        ("delivery log REST first page (median ms)", median(log_ms), LIST_TARGET_MS),
        ("delivery log UI first page (median ms)", median(log_ui_ms), LIST_TARGET_MS),
        (
            f"delivery log REST row {depth:,} by cursor (median ms)",
            median(deep_ms),
            LIST_TARGET_MS,
        ),
        ("delivery log of one webhook, first page (median ms)", median(hook_ms), LIST_TARGET_MS),
        (
            f"delivery log of one webhook, its row {hook_depth:,} by cursor (median ms)",
            median(hook_deep_ms),
            LIST_TARGET_MS,
        ),
        ("delivery log, failed only, first page (median ms)", median(failed_ms), LIST_TARGET_MS),
    ]
    ratio = median(offset_ms) / median(keyset_ms)
    print(
        f"delivery log page at row {depth:,}, database only (median of {rounds} alternating "
        f"rounds): OFFSET {median(offset_ms):.1f} ms, cursor {median(keyset_ms):.1f} ms, "
        f"cursor {ratio:.1f}x faster"
    )
    print(f"CLI list as a new process, wall time (median) {median(cli_ms):.0f} ms")
    p99 = (
        statistics.quantiles(health_ms, n=100, method="inclusive")[98]
        if len(health_ms) > 1
        else health_ms[0]
    )
    print(
        f"/healthz: {len(health_ms)} answers, p50 {median(health_ms):.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(health_ms):.1f} ms, while {served[0]} list pages were served"
    )
    ok = True
    for name, value, target in rows:
        good = value < target
        ok &= good
        print(
            f"{name:<66} {value:8.1f}   target < {target:.0f}   {'OK' if good else 'ABOVE TARGET'}"
        )
    return ok


def cli() -> None:
    main(
        **vars(
            options(__doc__, count=100_000, rounds=5, deliveries=100_000, webhooks=10).parse_args()
        )
    )


if __name__ == "__main__":
    cli()
