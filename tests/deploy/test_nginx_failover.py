"""The documented deployment, run: two ``credgate serve`` nodes on one PostgreSQL database behind
a real nginx (Debian's nginx-light) with ``deploy/nginx.conf``. One node is killed under token
load; no request fails, and the survivor serves everything after. Also: ``deploy/credgate.service``
is a valid unit whose command line credgate accepts."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from credgate.apicredentials.services import ApiCredentialService
from credgate.container import Container
from credgate.core.audit.services import Actor
from nginx_support import MISSING, NGINX, start_nginx
from served import ServedCredgate
from support import free_port, make_key_material, make_settings

ROOT = Path(__file__).resolve().parents[2]
NODES = ("10.0.0.11:8080", "10.0.0.12:8080")


def deployment_config(node_ports: list[int], port: int) -> str:
    """deploy/nginx.conf with the nodes and the listener on loopback, without TLS."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    for address, node_port in zip(NODES, node_ports, strict=True):
        assert address in text
        text = text.replace(address, f"127.0.0.1:{node_port}")
    assert "listen 443 ssl;" in text
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    return re.sub(r"^\s*ssl_certificate.*$", "", text, flags=re.M)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_node_killed_under_token_load_fails_no_request(
    tmp_path: Path, fresh_pg: Callable[[], str]
) -> None:
    if NGINX is None:
        pytest.skip(MISSING)
    url = fresh_pg()
    keys = make_key_material()
    shared = {"database_url": url, "trusted_proxies": "127.0.0.1", **keys}
    with (
        ServedCredgate(tmp_path / "node-a", **shared) as node_a,
        ServedCredgate(tmp_path / "node-b", **shared) as node_b,
    ):
        container = Container.open(make_settings(tmp_path, url, keys))
        try:
            created = container.services.get(ApiCredentialService).create(
                name="load", permissions=["workflows"], actor=Actor.cli()
            )
        finally:
            container.close()
        client_id, secret = created.credential.client_id, created.client_secret

        root = tmp_path / "nginx"
        root.mkdir()
        port = free_port()
        (root / "credgate.conf").write_text(deployment_config([node_a.port, node_b.port], port))
        proxy = start_nginx(
            root,
            # Which node answered, for the test only.
            f"add_header X-Upstream $upstream_addr always;\ninclude {root}/credgate.conf;",
            [port],
            connections=256,
        )
        try:
            results: list[tuple[float, int, str]] = []
            stop = threading.Event()

            def load() -> None:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                    while not stop.is_set():
                        try:
                            answer = http.post(
                                "/oauth2/default/v1/token",
                                auth=(client_id, secret),
                                data={"grant_type": "client_credentials"},
                            )
                            status, upstream = (
                                answer.status_code,
                                answer.headers.get("X-Upstream", ""),
                            )
                        except httpx.HTTPError as exc:
                            status, upstream = 0, type(exc).__name__
                        results.append((time.monotonic(), status, upstream))

            threads = [threading.Thread(target=load) for _ in range(6)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            node_b_addr = f"127.0.0.1:{node_b.port}"
            while time.monotonic() < deadline:  # until both nodes have answered a few
                served = Counter(u for _, s, u in list(results) if s == 200)
                if served[node_b_addr] >= 5 and served[f"127.0.0.1:{node_a.port}"] >= 5:
                    break
                time.sleep(0.1)
            os.kill(node_b.pid, signal.SIGKILL)  # no graceful shutdown: requests die in flight
            killed_at = time.monotonic()
            node_b.process.wait(timeout=10)  # type: ignore[union-attr]
            while (
                time.monotonic() < killed_at + 3
                or len([r for r in results if r[0] > killed_at]) < 30
            ):
                time.sleep(0.1)
                if time.monotonic() > killed_at + 60:
                    break
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)

    # Only the requests in flight on the killed node may fail (at most one per client thread,
    # around the kill): every other request is answered, by whichever node is up.
    failed = [r for r in results if r[1] != 200]
    in_flight = [r for r in failed if killed_at - 1 <= r[0] <= killed_at + 5]
    assert len(in_flight) == len(failed), f"{len(failed)} of {len(results)} failed: {failed[:5]}"
    assert len(failed) <= len(threads), f"{len(failed)} failed at the kill: {failed}"
    before = Counter(u for t, _, u in results if t < killed_at)
    assert before[node_b_addr] >= 5, "both nodes took load before the kill"
    after = [u for t, _, u in results if t > killed_at + 1]
    assert len(after) >= 10
    assert all(u.endswith(f"127.0.0.1:{node_a.port}") for u in after), Counter(after)
    retried = [u for _, _, u in results if "," in u]
    print(f"{len(results)} token requests, {len(retried)} retried on the other node")


def test_the_systemd_unit_is_valid_and_its_command_is_accepted(tmp_path: Path) -> None:
    unit = (ROOT / "deploy" / "credgate.service").read_text()
    command = re.search(r"^ExecStart=(\S+) (.*)$", unit, re.M)
    assert command is not None
    program, args = command.group(1), command.group(2).split()
    assert program.endswith("/bin/credgate")
    assert args[0] == "serve"
    checked = subprocess.run(
        [sys.executable, "-m", "credgate", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert checked.returncode == 0, checked.stderr  # every option of ExecStart exists
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    local = tmp_path / "credgate.service"
    local.write_text(unit.replace(program, str(Path(sys.prefix) / "bin" / "credgate")))
    verified = subprocess.run(
        [analyze, "verify", "--man=no", str(local)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == ""
