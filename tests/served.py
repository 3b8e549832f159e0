"""``credgate serve`` as a real subprocess on a loopback port, as an operator starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from support import ADMIN_PASSWORD, free_port, make_key_material

SRC = Path(__file__).resolve().parents[1] / "src"


def credgate_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a credgate command: this checkout's source, one data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDGATE_")}
    env.update(
        PYTHONPATH=str(SRC),
        CREDGATE_DATA_DIR=str(data_dir),
        CREDGATE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        CREDGATE_LOG_LEVEL="WARNING",
        CREDGATE_WORKER_IN_SERVE="false",
    )
    env.update({f"CREDGATE_{name.upper()}": value for name, value in settings.items()})
    return env


def run_credgate(
    env: dict[str, str], *args: str, umask: int = -1, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        umask=umask,
        check=False,
    )


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    timeout: float = 30,
    output: Callable[[], str] | None = None,
) -> None:
    """Wait until ``url``/readyz answers 200; if ``process`` exits first, fail with the end of
    what it wrote (``output``, or its stderr pipe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = output() if output else process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"the server exited: {said[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server did not become ready")


class ServedCredgate:
    """``credgate serve`` with its own data directory; stderr goes to ``serve.log`` there."""

    def __init__(
        self, root: Path, *, umask: int = -1, keys_in_env: bool = False, **settings: str
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = root / "var"
        if keys_in_env:
            settings = {**make_key_material(), **settings}
        self.env = credgate_env(self.data_dir, port=str(self.port), **settings)
        self.umask = umask
        self.log = root / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> ServedCredgate:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "credgate", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                umask=self.umask,
            )
        try:
            wait_ready(self.url, self.process, timeout=60, output=self.log.read_text)
        except RuntimeError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another ``credgate`` command on the same installation."""
        return run_credgate(self.env, *args)

    def admin_token(self) -> str:
        done = self.cli("admins", "token", "admin", "--name", "tests", "--json")
        assert done.returncode == 0, done.stderr
        import json

        return str(json.loads(done.stdout)["token"])

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {field} in /proc/{self.pid}/status")

    def start_peak(self) -> int:
        """Reset the server's peak resident memory to its current one; return that, in bytes."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # 5: reset VmHWM (proc(5))
        return self._status("VmRSS")

    def peak_rss(self) -> int:
        """The server process's peak resident memory since :meth:`start_peak`, in bytes."""
        return self._status("VmHWM")
