"""Start one credgate server process, drive it with wrk, read wrk's figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["LoadResult", "Server", "run_wrk", "server"]


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    def row(self) -> str:
        return (
            f"{self.name:<28} {self.requests_per_second:>10,.0f} req/s   p50 {self.p50_ms:7.2f} ms"
            f"   p99 {self.p99_ms:7.2f} ms   non-2xx {self.non_2xx}"
        )


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path

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

    def create_credential(self, name: str, permissions: list[str]) -> tuple[str, str]:
        args = ["api-credentials", "create", "--name", name, "--json"]
        for permission in permissions:
            args += ["-p", permission]
        data = json.loads(self.cli(*args))
        return data["client_id"], data["client_secret"]


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
        "CREDGATE_BENCH_ECHO": "true",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2])
        + os.pathsep
        + os.environ.get("PYTHONPATH", ""),
        **(extra_env or {}),
    }
    env.pop("CREDGATE_DATABASE_URL", None)
    srv = Server(url=f"http://127.0.0.1:{port}", env=env, data_dir=data_dir)
    srv.cli("init")
    proc = subprocess.Popen(
        [sys.executable, "-m", "credgate", "serve"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{srv.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the benchmark server did not start: "
                    + (proc.stderr.read().decode() if proc.stderr else "")
                )
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


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
) -> LoadResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    script = _LUA.format(
        method=method, body=json.dumps(body) if body is not None else "nil", headers=header_lines
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        lua = handle.name
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua, url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(lua)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return LoadResult(
        name=name,
        requests_per_second=rps,
        p50_ms=_latency_ms(out, "50"),
        p99_ms=_latency_ms(out, "99"),
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
    )
