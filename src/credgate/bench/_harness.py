"""Start one credgate server process, drive it with wrk, read wrk's figures."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from credgate.apicredentials.models import ApiCredential, ApiCredentialSecret
from credgate.core.config import load_settings
from credgate.core.db import Database
from credgate.security.keyfiles import open_keys
from credgate.security.secrets import SecretHasher, generate_client_id, generate_secret

__all__ = [
    "LoadResult",
    "Server",
    "alternate",
    "alternate_gets",
    "bench_webhook",
    "cpu_seconds",
    "medians",
    "options",
    "paired_ratio",
    "run_wrk",
    "run_wrk_script",
    "server",
    "stop",
    "verdict",
    "warn_failures",
]


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    cpu_us_per_request: float | None = None
    """The server's CPU time (user + system) per request, when its process was given."""

    def row(self) -> str:
        cpu = (
            ""
            if self.cpu_us_per_request is None
            else f"   cpu {self.cpu_us_per_request:6.1f} us/req"
        )
        return (
            f"{self.name:<28} {self.requests_per_second:>10,.0f} req/s   p50 {self.p50_ms:7.2f} ms"
            f"   p99 {self.p99_ms:7.2f} ms   non-2xx {self.non_2xx}{cpu}"
        )


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path
    pid: int = 0

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "credgate", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            cwd=self.data_dir,
        )
        return out.stdout

    def open_database(self) -> tuple[Database, SecretHasher]:
        """The server's database and secret hasher, to seed it faster than commands can."""
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            settings = load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        _vault, pepper = open_keys(settings)
        return Database(settings.resolved_database_url), SecretHasher(pepper)

    def seed_credentials(
        self, prefix: str, count: int, permissions: list[str], chunk: int = 5000
    ) -> list[tuple[str, str]]:
        """``count`` API credentials written straight to the database: (client id, secret).

        No change is published: a running server has never seen them.
        """
        db, hasher = self.open_database()
        made: list[tuple[str, str]] = []
        try:
            for start in range(0, count, chunk):
                batch = [
                    (generate_client_id(), generate_secret(), f"{prefix} {n:07d}")
                    for n in range(start, min(start + chunk, count))
                ]
                with db.session() as session:
                    session.execute(
                        insert(ApiCredential),
                        [
                            {"client_id": c, "name": name, "permissions": permissions}
                            for c, _s, name in batch
                        ],
                    )
                    ids = dict(
                        session.execute(
                            select(ApiCredential.client_id, ApiCredential.id).where(
                                ApiCredential.client_id.in_([c for c, _s, _n in batch])
                            )
                        )
                        .tuples()
                        .all()
                    )
                    session.execute(
                        insert(ApiCredentialSecret),
                        [
                            {"credential_id": ids[c], "secret_hash": hasher.hash(secret)}
                            for c, secret, _n in batch
                        ],
                    )
                made += [(c, secret) for c, secret, _n in batch]
        finally:
            db.dispose()
        return made

    def seed_deliveries(self, count: int, webhooks: int = 1, chunk: int = 10_000) -> None:
        """``webhooks`` webhooks and ``count`` deliveries dealt round-robin among them, a second
        apart, written straight to the database (the worker never sees them: the webhooks are
        disabled). A tenth of each webhook's deliveries failed, the others were delivered."""
        import datetime as dt

        from credgate.outbound.models import Webhook, WebhookDelivery

        db, _hasher = self.open_database()
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        hooks = [bench_webhook(k) for k in range(webhooks)]
        try:
            with db.session() as session:
                session.add_all(
                    Webhook(
                        id=hook,
                        name=hook.replace("-", " "),
                        credential_id="none",
                        method="POST",
                        resource="/",
                        enabled=False,
                        disabled_reason="bench",
                    )
                    for hook in hooks
                )
            for first in range(0, count, chunk):
                rows = []
                for n in range(first, min(first + chunk, count)):
                    at = start + dt.timedelta(seconds=n)
                    rows.append(
                        {
                            "id": f"msg_bench{n:09d}",
                            "webhook_id": hooks[n % webhooks],
                            "event_type": "explicit",
                            "data": {},
                            "state": "failed" if n // webhooks % 10 == 9 else "delivered",
                            "attempts": 1,
                            "next_attempt_at": at,
                            "last_error": "",
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
                with db.session() as session:
                    session.execute(insert(WebhookDelivery), rows)
        finally:
            db.dispose()

    def create_credential(self, name: str, permissions: list[str]) -> tuple[str, str]:
        args = ["api-credentials", "create", "--name", name, "--json"]
        for permission in permissions:
            args += ["-p", permission]
        data = json.loads(self.cli(*args))
        return data["client_id"], data["client_secret"]


def bench_webhook(index: int) -> str:
    """The id of the ``index``-th webhook :meth:`Server.seed_deliveries` makes."""
    return f"bench-hook-{index}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """A fresh installation in a temporary directory, served by one uvicorn worker."""
    data_dir = Path(tempfile.mkdtemp(prefix="credgate-bench-"))
    port = _free_port()
    env = {
        **os.environ,
        "CREDGATE_DATA_DIR": str(data_dir / "var"),
        "CREDGATE_PORT": str(port),
        "CREDGATE_WORKERS": "1",
        "CREDGATE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2])
        + os.pathsep
        + os.environ.get("PYTHONPATH", ""),
        **(extra_env or {}),
    }
    env.pop("CREDGATE_DATABASE_URL", None)
    srv = Server(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir)
    srv.cli("init")
    proc = subprocess.Popen(
        # credgate serve, with the benchmarks' baselines mounted in front (credgate.bench.serve)
        [sys.executable, "-m", "credgate.bench.serve"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    srv.pid = proc.pid
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts slowly
        while True:
            try:
                if httpx.get(f"{srv.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()  # its standard error can only be read to the end once it stopped
                raise RuntimeError(
                    "the benchmark server did not start: "
                    + (proc.stderr.read().decode() if proc.stderr else "")
                )
            time.sleep(0.1)
        yield srv
    finally:
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a benchmark server: asked first, killed after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; None where /proc has
    no answer. On a shared machine it moves far less with the load than requests per second."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_LUA = """
wrk.method = "{method}"
wrk.body = {body}
{headers}
"""


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(
    name: str,
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    seconds: int = 10,
    connections: int = 32,
    pid: int | None = None,
) -> LoadResult:
    """wrk against ``url``; with ``pid``, the result also has that server's CPU per request."""
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    script = _LUA.format(
        method=method, body=json.dumps(body) if body is not None else "nil", headers=header_lines
    )
    return run_wrk_script(name, url, script, seconds=seconds, connections=connections, pid=pid)


def run_wrk_script(
    name: str,
    url: str,
    script: str,
    *,
    seconds: int = 10,
    connections: int = 32,
    pid: int | None = None,
) -> LoadResult:
    """wrk with a Lua script of one's own (one thread, so the script sees every request)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        lua = handle.name
    cpu_before = cpu_seconds(pid) if pid else None
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua, url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(lua)
    cpu_after = cpu_seconds(pid) if pid else None
    requests = re.search(r"(\d+) requests in", out)
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and requests and int(requests.group(1)):
        cpu_us = (cpu_after - cpu_before) / int(requests.group(1)) * 1e6
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return LoadResult(
        name=name,
        requests_per_second=rps,
        p50_ms=_latency_ms(out, "50"),
        p99_ms=_latency_ms(out, "99"),
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        cpu_us_per_request=cpu_us,
    )


def alternate(rounds: int, *loads: Callable[[], LoadResult]) -> list[list[LoadResult]]:
    """Each load's results, the loads run one after the other ``rounds`` times, so that a busy
    moment of a shared machine hits them all alike."""
    results: list[list[LoadResult]] = [[] for _ in loads]
    for _ in range(rounds):
        for load, found in zip(loads, results, strict=True):
            found.append(load())
    return results


def alternate_gets(
    rounds: int, *gets: tuple[str, str, dict[str, str] | None], seconds: int, connections: int
) -> list[list[LoadResult]]:
    """wrk GETs of each ``(name, url, headers)``: each warmed up for 2 s, then run alternately
    ``rounds`` times (:func:`alternate`)."""
    for _name, url, headers in gets:
        run_wrk("warm-up", url, headers=headers, seconds=2, connections=connections)
    load = partial(run_wrk, seconds=seconds, connections=connections)
    return alternate(
        rounds, *(partial(load, name, url, headers=headers) for name, url, headers in gets)
    )


def medians(*runs: list[LoadResult]) -> list[float]:
    """Print every result's row; the median requests/s of each list of results."""
    for results in runs:
        for result in results:
            print(result.row())
    return [statistics.median(r.requests_per_second for r in results) for results in runs]


def paired_ratio(
    name: str, measured: list[LoadResult], baseline: list[LoadResult], target: float
) -> float:
    """Print and return the median of the per-round ratios ``measured``/``baseline`` (with a
    warning if any answer was not 2xx).

    Both loads run back to back in each round: the median of the per-round ratios follows a
    shared machine's drifting load less than the ratio of the medians does (printed beside it).
    """
    pairs = [
        m.requests_per_second / b.requests_per_second
        for m, b in zip(measured, baseline, strict=True)
    ]
    ratio = statistics.median(pairs)
    of_medians = statistics.median(m.requests_per_second for m in measured) / statistics.median(
        b.requests_per_second for b in baseline
    )
    print(f"per-round ratios: {', '.join(f'{p:.3f}' for p in pairs)}")
    print(
        f"ratio {name} = {ratio:.3f} (median of rounds; ratio of medians {of_medians:.3f})   "
        f"target >= {target}   {verdict(ratio, target)}"
    )
    warn_failures([*measured, *baseline])
    return ratio


def verdict(ratio: float, target: float) -> str:
    return "OK" if ratio >= target else "BELOW TARGET"


def warn_failures(results: list[LoadResult], what: str = "responses") -> None:
    failures = sum(r.non_2xx for r in results)
    if failures:
        print(f"WARNING: {failures} {what} were not 2xx")


def options(doc: str, **defaults: int) -> argparse.ArgumentParser:
    """A benchmark's command line: described by its docstring's first line, with an integer
    option ``--NAME`` for each default (its ``main``'s keyword of that name)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in defaults.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    return parser
