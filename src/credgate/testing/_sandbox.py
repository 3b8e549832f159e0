"""`Sandbox`: one throwaway credgate, its credentials and its definitions."""

from __future__ import annotations

import base64
import logging
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self

import uvicorn

from credgate.app import create_app
from credgate.bootstrap import initialise
from credgate.client import AsyncClient, Client, ClientConfig
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.permissions import CATALOGUE
from credgate.demo import SAMPLE_DEFINITIONS
from credgate.platform.definitions import Kind, StoredDefinition

__all__ = ["ALL_PERMISSIONS", "SAMPLE_DEFINITIONS", "Sandbox", "SandboxCredential"]

logger = logging.getLogger(__name__)

ALL_PERMISSIONS: Final[tuple[str, ...]] = tuple(p.id for p in CATALOGUE)

_ACTOR = Actor("credgate.testing", "sandbox")
_MASK = "**********"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True, repr=False)
class SandboxCredential:
    """An API credential of the sandbox. `client_secret` is masked in `repr()`."""

    client_id: str
    client_secret: str
    permissions: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"SandboxCredential(client_id={self.client_id!r}, client_secret={_MASK!r}, "
            f"permissions={list(self.permissions)!r})"
        )


@dataclass(slots=True)
class _Running:
    directory: Path
    owns_directory: bool
    container: Container
    server: uvicorn.Server
    thread: threading.Thread
    url: str
    clients: list[Client | AsyncClient] = field(default_factory=list)


class Sandbox:
    """A real credgate on 127.0.0.1, on SQLite in a temporary directory.

    `settings` are extra `credgate.core.config.Settings` fields (for example
    `{"token_ttl_seconds": 3}`); the database, keys, address and upstreams are always the
    sandbox's own, whatever the environment says, so a test never touches a real deployment.
    """

    def __init__(
        self,
        *,
        settings: Mapping[str, Any] | None = None,
        directory: str | Path | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self._overrides = dict(settings or {})
        self._directory = Path(directory) if directory is not None else None
        self._start_timeout = start_timeout
        self._running: _Running | None = None
        self._count = 0

    def __repr__(self) -> str:
        where = self._running.url if self._running else "stopped"
        return f"Sandbox({where})"

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Self:
        """Create the database and keys, and serve on a free port; returns when it answers."""
        if self._running is not None:
            return self
        owns = self._directory is None
        directory = (
            Path(tempfile.mkdtemp(prefix="credgate-sandbox-"))
            if self._directory is None
            else self._directory
        )
        directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        values: dict[str, Any] = {
            "sync_interval_seconds": 0.5,
            "log_level": "WARNING",
            **self._overrides,
            # Always the sandbox's own, never inherited from CREDGATE_* in the environment:
            "data_dir": directory / "var",
            "database_url": f"sqlite:///{directory / 'credgate.db'}",
            "host": "127.0.0.1",
            "port": port,
            "public_base_url": url,
            "instance": None,
            "region": None,
            "domain": None,
            "master_key": f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
            "pepper": base64.b64encode(secrets.token_bytes(32)).decode(),
            "admin_password": secrets.token_urlsafe(24),
            **{f"upstream_{family}_url": None for family in _UPSTREAMS},
        }
        settings = Settings(**values)
        db = Database(settings.resolved_database_url)
        try:
            initialise(settings, db, create_keys=False)
        finally:
            db.dispose()
        container = Container.open(settings)
        config = uvicorn.Config(
            create_app(container=container),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"credgate-sandbox-{port}", daemon=True)
        self._running = _Running(directory, owns, container, server, thread, url)
        thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                self.stop()
                raise RuntimeError(f"the credgate sandbox did not start on {url}")
            time.sleep(0.01)
        logger.debug("credgate sandbox serving on %s", url)
        return self

    def stop(self) -> None:
        """Close the clients it handed out, stop serving, remove its temporary directory."""
        running, self._running = self._running, None
        if running is None:
            return
        for client in running.clients:
            if isinstance(client, Client):
                client.close()
        running.server.should_exit = True
        running.thread.join(timeout=10)
        running.container.close()
        if running.owns_directory:
            shutil.rmtree(running.directory, ignore_errors=True)

    def _require(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the sandbox is not running: call start() or use it in a with block")
        return self._running

    @property
    def url(self) -> str:
        """Base URL of the running server, such as `http://127.0.0.1:50123`."""
        return self._require().url

    @property
    def container(self) -> Container:
        """The server's `Container`, for assertions on its state (metrics, records, ...)."""
        return self._require().container

    def tokens_issued(self) -> int:
        """How many access tokens the token endpoints have issued so far."""
        value = self.container.metrics.registry.get_sample_value("credgate_tokens_issued_total")
        return int(value or 0)

    # --- credentials ----------------------------------------------------------------------

    def create_credential(
        self, permissions: Iterable[str] | None = None, *, name: str | None = None
    ) -> SandboxCredential:
        """An API credential holding `permissions` (every permission when None)."""
        perms = tuple(ALL_PERMISSIONS if permissions is None else permissions)
        self._count += 1
        created = self.container.api_credentials.create(
            name=name or f"sandbox-{self._count}", permissions=list(perms), actor=_ACTOR
        )
        return SandboxCredential(created.credential.client_id, created.client_secret, perms)

    def config(self, credential: SandboxCredential | None = None, **options: Any) -> ClientConfig:
        """A `ClientConfig` for this server (a new all-permissions credential when None)."""
        credential = credential or self.create_credential()
        return ClientConfig(
            base_url=self.url,
            client_id=credential.client_id,
            client_secret=credential.client_secret,
            **options,
        )

    def client(self, permissions: Iterable[str] | None = None, **options: Any) -> Client:
        """A ready `Client` with a new credential; closed by `stop()` if still open."""
        client = Client(self.config(self.create_credential(permissions), **options))
        self._require().clients.append(client)
        return client

    def async_client(self, permissions: Iterable[str] | None = None, **options: Any) -> AsyncClient:
        """A ready `AsyncClient` with a new credential; close it (`async with`) in your loop."""
        return AsyncClient(self.config(self.create_credential(permissions), **options))

    # --- definitions ----------------------------------------------------------------------

    def define(self, kind: Kind, data: Mapping[str, Any]) -> StoredDefinition:
        """Create one definition (wire spelling, as the admin API takes it)."""
        return self.container.definitions.create(kind, data, actor=_ACTOR)

    def add_workflow(self, **data: Any) -> StoredDefinition:
        return self.define("workflow", data)

    def add_remote_action(self, **data: Any) -> StoredDefinition:
        return self.define("remote_action", data)

    def add_campaign(self, **data: Any) -> StoredDefinition:
        return self.define("campaign", data)

    def add_query(self, **data: Any) -> StoredDefinition:
        return self.define("query", data)

    def add_enrichment_field(self, **data: Any) -> StoredDefinition:
        return self.define("enrichment_field", data)

    def seed(
        self, definitions: Sequence[tuple[Kind, Mapping[str, Any]]] = SAMPLE_DEFINITIONS
    ) -> list[StoredDefinition]:
        """Create `definitions` (the samples by default), skipping ids that already exist."""
        made = []
        for kind, data in definitions:
            if self.container.definitions.find(kind, str(data["id"])) is None:
                made.append(self.define(kind, data))
        return made


_UPSTREAMS: Final[tuple[str, ...]] = (
    "workflows",
    "remote_actions",
    "nql",
    "enrichment",
    "campaigns",
    "spark",
    "data_management",
)
