"""Bearer-protection benchmark: ``GET /api/v1/workflows`` with a valid token, against the same
handler mounted without protection, on one server process (uvicorn, 1 worker), in one run.

    PYTHONPATH=src python bench/bearer.py [--seconds 3] [--rounds 7] [--connections 32]

A temporary SQLite installation is set up with a credential with the Workflows permission and a
few workflows, and served by ``credgate.bench.serve``, which mounts the unprotected
``/_bench/workflows`` (the same handler with a bearer check that accepts anyone). ``wrk`` drives
both routes alternately, ``rounds`` times each; the medians give the ratio.
Target (SPEC section 10): protected >= 0.9 x unprotected.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

TARGET = 0.9
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Load:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    def row(self) -> str:
        return (
            f"{self.label:<32} {self.requests_per_second:>10,.0f} req/s   "
            f"p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms   non-2xx {self.non_2xx}"
        )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(label: str, url: str, token: str | None, seconds: int, connections: int) -> Load:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Load(label, rps, p50, p99, int(bad.group(1)) if bad else 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(directory: Path, env: dict[str, str]) -> tuple[str, str]:
    """Initialise the installation; return a Workflows credential's id and secret."""
    sys.path.insert(0, str(SRC))
    os.environ.update(env)
    from credgate.bootstrap import initialise
    from credgate.container import Container
    from credgate.core.audit.services import Actor
    from credgate.core.config import load_settings
    from credgate.core.db import Database

    settings = load_settings()
    db = Database(settings.resolved_database_url)
    initialise(settings, db)
    db.dispose()
    container = Container.open(settings)
    actor = Actor("bench", "bench")
    try:
        for n in range(5):
            container.definitions.create(
                "workflow",
                {"id": f"#bench_{n}", "name": f"Bench workflow {n}", "triggerMethods": ["API"]},
                actor=actor,
            )
        created = container.api_credentials.create(
            name="bench", permissions=["workflows"], actor=actor
        )
        return created.credential.client_id, created.client_secret
    finally:
        container.close()


def in_process(token: str, requests: int = 3000, rounds: int = 3) -> tuple[float, float, float]:
    """Per-request cost of both routes called straight through the ASGI app, no sockets.

    Much less noisy than wrk on a shared machine; returns (open us, bearer us, guard us).
    """
    import asyncio

    from credgate.app import create_app
    from credgate.bench.serve import Baselines
    from credgate.container import Container
    from credgate.core.config import load_settings

    container = Container.open(load_settings())
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

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))  # type: ignore[call-overload]

        await app(scope, receive, send)
        assert status == [200], status

    async def measure(path: str, auth: bool) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await call(path, auth)
        return (time.perf_counter() - started) / requests * 1e6

    async def run() -> tuple[float, float, float]:
        await call("/api/v1/workflows", True)  # warm the caches
        open_us, bearer_us = [], []
        for _ in range(rounds):
            open_us.append(await measure("/_bench/workflows", False))
            bearer_us.append(await measure("/api/v1/workflows", True))
        guard = container.bearer_guard
        started = time.perf_counter()
        for _ in range(requests * 10):
            await guard.authorize(f"Bearer {token}", "workflows")
        guard_us = (time.perf_counter() - started) / (requests * 10) * 1e6
        return statistics.median(open_us), statistics.median(bearer_us), guard_us

    try:
        return asyncio.run(run())
    finally:
        container.close()


def main(seconds: int = 3, rounds: int = 7, connections: int = 32) -> float:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed")
    directory = Path(tempfile.mkdtemp(prefix="credgate-bench-"))
    port = _free_port()
    env = {
        "CREDGATE_DATA_DIR": str(directory),
        "CREDGATE_PORT": str(port),
        "CREDGATE_WORKERS": "1",
        "CREDGATE_LOG_LEVEL": "WARNING",
        "CREDGATE_ADMIN_PASSWORD": secrets.token_urlsafe(16),
    }
    client_id, secret = _prepare(directory, env)
    process = subprocess.Popen(
        [sys.executable, "-m", "credgate.bench.serve"],
        env={**os.environ, **env, "PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        token = httpx.post(
            f"{base}/api/v1/token", headers={"Authorization": f"Basic {basic}"}, timeout=5
        ).json()["access_token"]
        protected_url, open_url = f"{base}/api/v1/workflows", f"{base}/_bench/workflows"
        check = httpx.get(protected_url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        same = httpx.get(open_url, timeout=5)
        assert check.status_code == same.status_code == 200, (check.text, same.text)
        assert check.json() == same.json(), "the two routes must run the same handler"
        assert httpx.get(protected_url, timeout=5).status_code == 401
        wrk("warm-up", protected_url, token, 2, connections)
        wrk("warm-up", open_url, None, 2, connections)
        protected: list[Load] = []
        unprotected: list[Load] = []
        for _ in range(rounds):
            unprotected.append(
                wrk("GET /_bench/workflows (open)", open_url, None, seconds, connections)
            )
            protected.append(
                wrk("GET /api/v1/workflows (bearer)", protected_url, token, seconds, connections)
            )
        open_us, bearer_us, guard_us = in_process(token)
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(directory, ignore_errors=True)
    for result in [*unprotected, *protected]:
        print(result.row())
    open_rps = statistics.median(r.requests_per_second for r in unprotected)
    bearer_rps = statistics.median(r.requests_per_second for r in protected)
    # Each round measures both routes back to back; the median of the per-round ratios is less
    # sensitive to the load of a shared machine drifting than the ratio of the medians.
    pairs = [
        b.requests_per_second / o.requests_per_second
        for b, o in zip(protected, unprotected, strict=True)
    ]
    ratio = statistics.median(pairs)
    print(
        f"\nprotected (median) {bearer_rps:,.0f} req/s  p50 "
        f"{statistics.median(r.p50_ms for r in protected):.2f} ms  p99 "
        f"{statistics.median(r.p99_ms for r in protected):.2f} ms"
    )
    print(
        f"unprotected (median) {open_rps:,.0f} req/s  p50 "
        f"{statistics.median(r.p50_ms for r in unprotected):.2f} ms  p99 "
        f"{statistics.median(r.p99_ms for r in unprotected):.2f} ms"
    )
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"per-round ratios: {', '.join(f'{r:.3f}' for r in pairs)}")
    print(
        f"ratio protected/unprotected = {ratio:.3f} (median of rounds; ratio of medians "
        f"{bearer_rps / open_rps:.3f})   target >= {TARGET}   {verdict}"
    )
    print(
        f"\nin process (no sockets): open {open_us:.1f} us/request, bearer {bearer_us:.1f} "
        f"us/request, ratio (open/bearer time) {open_us / bearer_us:.3f}; "
        f"the guard alone {guard_us:.2f} us per cached check"
    )
    failures = sum(r.non_2xx for r in [*protected, *unprotected])
    if failures:
        print(f"WARNING: {failures} responses were not 2xx")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    main(args.seconds, args.rounds, args.connections)
