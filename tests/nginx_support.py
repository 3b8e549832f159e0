"""Debian's nginx (``nginx-light``), started by a test on loopback with a temporary configuration."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
MISSING = "nginx is not installed (Debian: apt-get install nginx-light)"


def start_nginx(
    root: Path, http_body: str, ports: Iterable[int], *, connections: int = 64
) -> subprocess.Popen[bytes]:
    """Run nginx in the foreground with ``http_body`` in its ``http`` block, its files under
    ``root``; return once every one of ``ports`` accepts connections. Terminate it when done."""
    assert NGINX is not None, MISSING
    user = "user root;" if os.geteuid() == 0 else ""
    config = root / "nginx.conf"
    config.write_text(
        textwrap.dedent(
            f"""
            {user}
            worker_processes 1;
            daemon off;
            pid {root}/nginx.pid;
            error_log {root}/error.log warn;
            events {{ worker_connections {connections}; }}
            http {{
                access_log off;
                client_body_temp_path {root}/body;
                proxy_temp_path {root}/proxy;
                fastcgi_temp_path {root}/fastcgi;
                uwsgi_temp_path {root}/uwsgi;
                scgi_temp_path {root}/scgi;
            """
        )
        + http_body
        + "\n}\n"
    )
    log = root / "error.log"
    process = subprocess.Popen(
        [NGINX, "-p", str(root), "-e", str(log), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    try:
        for port in ports:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"nginx exited: {log.read_text()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not start") from None
                    time.sleep(0.05)
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    return process
