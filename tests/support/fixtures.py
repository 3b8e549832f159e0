"""Fixtures that more than one module overrides the same way. A module takes one by importing
it (pytest registers each under the name it gives, whatever the module calls it):
``from support.fixtures import pages_backend  # noqa: F401 - a fixture`` (``backend``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import Tls, TlsServer
from support.provider import Provider, ProviderState


@pytest.fixture(name="backend")
def pages_backend(request: pytest.FixtureRequest) -> str:
    """``backend`` of the administration pages' tests: SQLite unless a test asks for more
    (``backend`` parametrised indirectly), since the pages add little database work of their own
    (the services under them are tested on both databases)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(name="settings_overrides")
def trusting_test_ca(tls: Tls) -> dict[str, Any]:
    """``settings_overrides`` of tests whose outbound peers serve ``tls``'s certificate: credgate
    trusts its CA."""
    return {"outbound_ca_bundle": tls.ca_bundle}


@pytest.fixture(name="provider")
def tls_provider(tls: Tls) -> Iterator[tuple[ProviderState, str]]:
    """``provider``: an Authlib authorization server (:class:`support.provider.Provider`) over
    TLS with ``tls``'s certificate; its state and its address."""
    state = ProviderState()
    with TlsServer(Provider(state).app(), tls) as server:
        yield state, server.url
