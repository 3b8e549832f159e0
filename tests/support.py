"""Helpers shared by the tests: key material, settings, and a real server on loopback."""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from credgate.app import CredgateApp
from credgate.config import Settings

ADMIN_PASSWORD = "correct horse battery staple"


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
