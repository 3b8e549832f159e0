"""Helpers shared by the tests: key material, settings, and a real server on loopback."""

from __future__ import annotations

import base64
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from credgate.app import CredgateApp
from credgate.core.config import Settings
from credgate.core.destinations import DestinationPolicy

ADMIN_PASSWORD = "correct horse battery staple"
#: Outbound peers of the tests (token endpoints, receivers, SFTP servers) listen on loopback,
#: which credgate refuses by default: tests allow it explicitly, so the default stays strict.
LOOPBACK_ALLOWED = "127.0.0.0/8"
#: The destination policy of such a test: loopback allowed, nothing else beyond public addresses.
LOOPBACK = DestinationPolicy.from_entries([LOOPBACK_ALLOWED])


def make_key_material() -> dict[str, str]:
    return {
        "master_key": f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        "pepper": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def make_settings(
    tmp_path: Path, database_url: str, keys: dict[str, str], **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "database_url": database_url,
        "admin_password": ADMIN_PASSWORD,
        "sync_interval_seconds": 0.2,
        "outbound_allowed_networks": [LOOPBACK_ALLOWED],
        **keys,
        **overrides,
    }
    return Settings(**values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """credgate served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: CredgateApp, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def hammer(send: Callable[[], object], *, threads: int = 48, seconds: float = 1.5) -> list[str]:
    """Call ``send`` from ``threads`` threads for ``seconds``, with the interpreter switching
    threads as often as it can (which exposes races in shared connection pools).

    Returns one ``repr`` per failed call; asserts that every thread got calls through.
    """
    errors: list[str] = []
    calls = [0] * threads
    stop = time.monotonic() + seconds

    def sender(index: int) -> None:
        while time.monotonic() < stop:
            try:
                send()
                calls[index] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=sender, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert sum(calls) > threads, "the threads got almost no calls through"
    return errors


# Administration pages ----------------------------------------------------------------------------


def csrf_field(html: str) -> str:
    """The CSRF token of the first form on a page."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: Any, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    """Post the sign-in form the way a browser does (its CSRF cookie and field included)."""
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": csrf_field(page.text)},
        follow_redirects=False,
    )


def cli_env(container: Any, **extra: str | None) -> dict[str, str | None]:
    """The environment a ``credgate`` command needs to act on ``container``'s installation."""
    settings = container.settings
    assert settings.master_key is not None
    assert settings.pepper is not None
    env: dict[str, str | None] = {
        "CREDGATE_DATA_DIR": str(settings.data_dir),
        "CREDGATE_DATABASE_URL": settings.resolved_database_url,
        "CREDGATE_MASTER_KEY": settings.master_key.get_secret_value(),
        "CREDGATE_PEPPER": settings.pepper.get_secret_value(),
        "CREDGATE_OUTBOUND_ALLOWED_NETWORKS": LOOPBACK_ALLOWED,
        "CREDGATE_CONFIG_FILE": None,
    }
    env.update(extra)
    return env
