"""pytest fixtures for integrators: a throwaway credgate and ready SDK clients.

Enabled by the `pytest11` entry point once credgate is installed (or `-p
credgate.testing.pytest_plugin`). In a test:

```
def test_lists_workflows(credgate_client):
    client = credgate_client(permissions=["workflows"])
    assert client.list_workflows()
```

- `credgate_server` (session): a running `Sandbox`, seeded with `SAMPLE_DEFINITIONS`.
- `credgate_settings` (session): override it to pass `Settings` fields to the server.
- `credgate_credential(permissions=None)`: a new `SandboxCredential`.
- `credgate_client(permissions=None, **ClientConfig options)`: a new `Client`, closed after the
  test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest

from credgate.client import Client
from credgate.testing._sandbox import Sandbox, SandboxCredential

__all__ = ["credgate_client", "credgate_credential", "credgate_server", "credgate_settings"]

CredentialFactory = Callable[..., SandboxCredential]
ClientFactory = Callable[..., Client]


@pytest.fixture(scope="session")
def credgate_settings() -> Mapping[str, Any]:
    """Extra server settings, such as `{"token_ttl_seconds": 5}`. Override to change them."""
    return {}


@pytest.fixture(scope="session")
def credgate_server(credgate_settings: Mapping[str, Any]) -> Iterator[Sandbox]:
    """A throwaway credgate on a free loopback port, seeded with sample definitions."""
    with Sandbox(settings=credgate_settings) as sandbox:
        sandbox.seed()
        yield sandbox


@pytest.fixture
def credgate_credential(credgate_server: Sandbox) -> CredentialFactory:
    """Factory: `credgate_credential(permissions=["nql"])` creates an API credential."""

    def make(
        permissions: Iterable[str] | None = None, *, name: str | None = None
    ) -> SandboxCredential:
        return credgate_server.create_credential(permissions, name=name)

    return make


@pytest.fixture
def credgate_client(credgate_server: Sandbox) -> Iterator[ClientFactory]:
    """Factory: `credgate_client(permissions=["workflows"])` returns a ready `Client`."""
    made: list[Client] = []

    def make(permissions: Iterable[str] | None = None, **options: Any) -> Client:
        credential = credgate_server.create_credential(permissions)
        client = Client(credgate_server.config(credential, **options))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
