"""Fixtures of the administration-page tests: an in-memory connector-credential store.

Connector-credential storage lives in its own package; until a container provides
``container.connector_credentials``, these tests give the pages this store. It validates with the
real :mod:`credgate.connectors.credentials` functions, answers in the shape the pages read
(:class:`credgate.web.ui_connectors.ConnectorCredentialStore`), and keeps records in a dict.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from credgate.connectors.credentials import (
    AuthType,
    CredentialValidationError,
    ValidatedCredential,
    masked_view,
    validate_create,
    validate_update,
)
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.web.ui_connectors import TestVerdict


@dataclass(frozen=True)
class MemoryView:
    id: str
    masked: Mapping[str, Any]
    updated_at: dt.datetime
    redirect_url: str | None
    last_test_ok: bool | None = None
    last_test_detail: str = ""
    status: str = ""

    @property
    def name(self) -> str:
        return str(self.masked["name"])


@dataclass(frozen=True)
class MemoryPage:
    total: int
    items: list[MemoryView] = field(default_factory=list)


def _invalid(exc: CredentialValidationError) -> InvalidInputError:
    return InvalidInputError([FieldError(e.field, e.message) for e in exc.errors])


class MemoryConnectorStore:
    base_url = "http://credgate.test"

    def __init__(self) -> None:
        self.stored: dict[str, ValidatedCredential] = {}
        self.updated: dict[str, dt.datetime] = {}
        self.tested: dict[str, bool] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _view(self, credential_id: str) -> MemoryView:
        cred = self.stored[credential_id]
        code = cred.auth_type is AuthType.OAUTH2_AUTHORIZATION_CODE
        return MemoryView(
            id=credential_id,
            masked=masked_view(cred),
            updated_at=self.updated[credential_id],
            redirect_url=f"{self.base_url}/oauth2/callback/{credential_id}" if code else None,
            last_test_ok=self.tested.get(credential_id),
        )

    def list(self, *, offset: int = 0, limit: int = 50) -> MemoryPage:
        ids = sorted(self.stored, key=lambda i: self.stored[i].name)
        return MemoryPage(len(ids), [self._view(i) for i in ids[offset : offset + limit]])

    def get(self, credential_id: str) -> MemoryView:
        if credential_id not in self.stored:
            raise NotFoundError(f"no connector credential {credential_id!r}")
        return self._view(credential_id)

    def _check_name(self, name: str, own: str | None) -> None:
        for other, cred in self.stored.items():
            if cred.name == name and other != own:
                raise ConflictError("name", "a connector credential with this name already exists")

    def create(self, data: object, *, actor: Actor) -> MemoryView:
        try:
            cred = validate_create(data)
        except CredentialValidationError as exc:
            raise _invalid(exc) from None
        with self._lock:
            self._check_name(cred.name, None)
            credential_id = f"cc-{next(self._ids)}"
            self.stored[credential_id] = cred
            self.updated[credential_id] = dt.datetime.now(dt.UTC)
            return self._view(credential_id)

    def update(self, credential_id: str, data: object, *, actor: Actor) -> MemoryView:
        with self._lock:
            self.get(credential_id)
            try:
                cred = validate_update(data, self.stored[credential_id])
            except CredentialValidationError as exc:
                raise _invalid(exc) from None
            self._check_name(cred.name, credential_id)
            self.stored[credential_id] = cred
            self.updated[credential_id] = dt.datetime.now(dt.UTC)
            return self._view(credential_id)

    def delete(self, credential_id: str, *, actor: Actor) -> None:
        with self._lock:
            self.get(credential_id)
            del self.stored[credential_id]


class MemoryTester:
    """Says whether the stored credential has every secret its type needs."""

    def __init__(self, store: MemoryConnectorStore) -> None:
        self.store = store

    def test(self, credential_id: str) -> TestVerdict:
        self.store.get(credential_id)
        cred = self.store.stored[credential_id]
        self.store.tested[credential_id] = True
        return TestVerdict(True, f"{cred.url} answered and accepted the credentials")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for more: the pages add little database work of their own
    (the services under them are tested on both databases); the audit-log query, which is the
    pages' own, is tested on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def connector_store() -> MemoryConnectorStore:
    return MemoryConnectorStore()


@pytest.fixture
def install_connector_store(connector_store: MemoryConnectorStore) -> Any:
    """Gives a container the in-memory store and tester, unless it has its own storage."""

    def install(container: Any) -> MemoryConnectorStore:
        container.connector_credentials = connector_store
        container.connector_tester = MemoryTester(connector_store)
        return connector_store

    return install
