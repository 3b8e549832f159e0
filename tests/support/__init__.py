"""Helpers shared by the tests: key material and settings, installations and PostgreSQL
databases of their own, real servers on loopback (plain or TLS), and HTTP, page and CLI helpers.

Peers with more behaviour live beside it: ``support.provider`` (an Authlib authorization
server), ``support.ssh`` (a recording SSH server), ``support.connector_data`` (credentials),
``support.platform_data`` (saved queries, devices, parser refusals), ``support.paging`` (the
checks every paged list shares), ``support.fixtures`` (fixtures a module takes by importing
them), ``support.fuzzing`` (Hypothesis settings) and ``support.sdk`` (SDK token rounds).
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import pytest
import trustme
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from starlette.testclient import TestClient

from credgate.app import CredgateApp, create_app
from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.destinations import DestinationPolicy

ADMIN_PASSWORD = "correct horse battery staple"
#: Outbound peers of the tests (token endpoints, receivers, SFTP servers) listen on loopback,
#: which credgate refuses by default: tests allow it explicitly, so the default stays strict.
LOOPBACK_ALLOWED = "127.0.0.0/8"
#: The destination policy of such a test: loopback allowed, nothing else beyond public addresses.
LOOPBACK = DestinationPolicy.from_entries([LOOPBACK_ALLOWED])

PG_ADMIN_URL = os.environ.get(
    "CREDGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def own_pg_database(prefix: str, why: str = "its tests are skipped") -> Iterator[str]:
    """A PostgreSQL database of its own (``<prefix>_<random>``), dropped (connections and all)
    at the end; the test is skipped, saying ``why``, when PostgreSQL does not answer."""
    admin = create_engine(
        PG_ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} does not answer ({type(exc).__name__}); {why}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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


def basic(user: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP Basic authentication (RFC 7617), as sent verbatim."""
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def fetch_token(client: Any, client_id: str, secret: str) -> str:
    """An access token from credgate's token endpoint, as a client-credentials client gets it."""
    response = client.post(
        "/oauth2/default/v1/token",
        headers={"Content-Type": "application/x-www-form-urlencoded", **basic(client_id, secret)},
        content="grant_type=client_credentials&scope=service%3Aintegration",
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


#: Seconds an idle connection stays open on a test server: well above the clients' keep-alive
#: expiry (httpx's 5 s, which credgate's pools keep), so that a client never reuses a connection
#: the server is closing at that moment (a RemoteProtocolError in a few thousand requests).
KEEP_ALIVE_SECONDS = 60


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread, over TLS when given a
    certificate; ``with`` starts it (waiting until it listens) and stops it.

    ``port`` is for apps that must know their address before they start (credgate's issuer);
    otherwise the socket is bound to a free port here, so no other process can take it between
    choosing and listening.
    """

    def __init__(
        self,
        app: Any,
        port: int | None = None,
        *,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        lifespan: Literal["on", "off"] = "off",
    ) -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port or 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"{'https' if certfile else 'http'}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan=lifespan,
            http="h11",
            ws="none",
            loop="asyncio",
            access_log=False,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            backlog=512,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()


class LiveServer(ThreadServer):
    """credgate itself, with its lifespan, on ``port`` (the one its settings name)."""

    app: CredgateApp

    def __init__(self, app: CredgateApp, port: int) -> None:
        super().__init__(app, port, lifespan="on")


# TLS: every outbound peer speaks https (connector credentials accept only https addresses), and
# the sending side trusts the test CA through ``outbound_ca_bundle``.


@dataclass(frozen=True)
class Tls:
    ca_bundle: Path
    certfile: Path
    keyfile: Path


def make_tls(directory: Path) -> Tls:
    """A private CA (trustme) and its certificate for 127.0.0.1 and localhost, as files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    tls = Tls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(tls.ca_bundle))
    cert.cert_chain_pems[0].write_to_path(str(tls.certfile))
    cert.private_key_pem.write_to_path(str(tls.keyfile))
    return tls


class TlsServer(ThreadServer):
    """:class:`ThreadServer` over TLS with ``tls``'s certificate."""

    def __init__(self, app: Any, tls: Tls) -> None:
        super().__init__(app, certfile=tls.certfile, keyfile=tls.keyfile)


@contextmanager
def node_client(container: Container, port: int = 8080) -> Iterator[TestClient]:
    """A test client of credgate on ``container`` (say, another node of an installation), which
    it closes at the end."""
    try:
        app = create_app(container=container)
        with TestClient(app, base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        container.close()


def open_container(settings: Settings) -> Container:
    """An installation initialised as ``credgate init`` does, opened."""
    db = Database(settings.resolved_database_url)
    initialise(settings, db, create_keys=False)
    db.dispose()
    return Container.open(settings)


def assert_no_secrets(
    records: Iterable[logging.LogRecord],
    values: Iterable[str],
    *,
    skip: tuple[str, ...] = ("authlib",),
) -> int:
    """Fail if a secret appears in a log record (message, arguments, traceback).

    ``skip`` names loggers of the test peers (Authlib's server logs what it receives).
    """
    wanted = [v for v in values if v]
    checked = 0
    for record in records:
        if record.name.startswith(skip):
            continue
        checked += 1
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1]) + str(record.exc_info[1])
        if record.exc_text:
            text += record.exc_text
        for value in wanted:
            assert value not in text, f"a secret appears in a log record of {record.name}"
    return checked


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


def post_malformed_json(client: Any, path: str) -> Any:
    """A POST to ``path`` of a body that says it is JSON and is not."""
    return client.post(path, content=b"{not json", headers={"Content-Type": "application/json"})


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


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a ``credgate`` process needs to act on the installation of ``settings``."""
    assert settings.master_key is not None
    assert settings.pepper is not None
    return {
        "CREDGATE_DATA_DIR": str(settings.data_dir),
        "CREDGATE_DATABASE_URL": settings.resolved_database_url,
        "CREDGATE_MASTER_KEY": settings.master_key.get_secret_value(),
        "CREDGATE_PEPPER": settings.pepper.get_secret_value(),
        "CREDGATE_OUTBOUND_ALLOWED_NETWORKS": LOOPBACK_ALLOWED,
    }


def cli_env(container: Any, **extra: str | None) -> dict[str, str | None]:
    """The environment of an in-process ``credgate`` command on ``container``'s installation
    (``None`` unsets a variable); no configuration file."""
    env: dict[str, str | None] = {**settings_env(container.settings), "CREDGATE_CONFIG_FILE": None}
    env.update(extra)
    return env


def next_console_page(client: TestClient, page: Any) -> Any:
    """The page a console list's pager links as the next one (the link must be there)."""
    following = re.search(r'rel="next" href="([^"]+)"', page.text)
    assert following, "the page links no next page"
    return client.get(html.unescape(following.group(1)))
