"""Fixtures of the platform API tests.

One installation per test module, on SQLite (the PostgreSQL path is exercised by the
two-process test): the API tests only add rows of their own, and this keeps the directory fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from resource_support import (
    ACTOR,
    ALL_PERMISSIONS,
    TokenFor,
    bad_token,
    fetch_token,
    open_container,
    seed,
    settings_for,
)
from starlette.testclient import TestClient

from credgate.container import Container


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def shared_settings_overrides() -> dict[str, object]:
    """Override in a module to change the shared installation's settings."""
    return {}


@pytest.fixture(scope="module")
def shared_container(
    tmp_path_factory: pytest.TempPathFactory, shared_settings_overrides: dict[str, object]
) -> Iterator[Container]:
    tmp = tmp_path_factory.mktemp("platform")
    rt = open_container(
        settings_for(tmp, f"sqlite:///{tmp / 'credgate.db'}", **shared_settings_overrides)
    )
    seed(rt)
    yield rt
    rt.close()


@pytest.fixture
def container(shared_container: Container) -> Container:
    return shared_container


@pytest.fixture
def seeded(container: Container) -> Container:
    """The container with :func:`resource_support.seed`'s definitions (made once per module)."""
    return container


@pytest.fixture
def token_for(client: TestClient, container: Container) -> TokenFor:
    """``token_for(["workflows"])`` -> an Authorization header for a new credential."""

    def make(permissions: list[str]) -> dict[str, str]:
        created = container.api_credentials.create(
            name=f"it-{uuid.uuid4().hex[:10]}", permissions=permissions, actor=ACTOR
        )
        token = fetch_token(client, created.credential.client_id, created.client_secret)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def all_headers(token_for: TokenFor) -> dict[str, str]:
    return token_for(ALL_PERMISSIONS)


@pytest.fixture
def crafted(container: Container) -> Callable[[str], str]:
    """``crafted(kind)``: a token for an active credential holding every permission, wrong in
    one way (see :data:`resource_support.BAD_TOKENS`), or ``"good"``."""
    created = container.api_credentials.create(
        name=f"crafted-{uuid.uuid4().hex[:8]}", permissions=ALL_PERMISSIONS, actor=ACTOR
    )
    return lambda kind: bad_token(container, created.credential.client_id, kind)


@pytest.fixture
def admin_token(container: Container) -> str:
    """An admin API token; named anew per test, as token names are unique per administrator
    and this directory shares one installation per module."""
    name = f"tests {uuid.uuid4().hex[:8]}"
    return container.admins.issue_token("admin", name, actor=ACTOR).token
