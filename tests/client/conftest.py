"""Fixtures for the SDK's tests: where the server is, and the loopback contract server.

By default the tests run against `contract_server.py` on 127.0.0.1. To point them at a running
credgate instead, set CREDGATE_SDK_TEST_BASE_URL, CREDGATE_SDK_TEST_CLIENT_ID and
CREDGATE_SDK_TEST_CLIENT_SECRET (a credential holding every permission); the tests that need the
loopback server's controls (counters, injected responses) are then skipped.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator

import pytest
from contract_server import ContractServer, Target

from credgate.client import ClientConfig
from credgate.testing import Sandbox

_ENV = (
    "CREDGATE_SDK_TEST_BASE_URL",
    "CREDGATE_SDK_TEST_CLIENT_ID",
    "CREDGATE_SDK_TEST_CLIENT_SECRET",
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A seeded credgate sandbox for the module (see credgate.testing)."""
    with Sandbox() as server:
        server.seed()
        yield server


@pytest.fixture(scope="session")
def contract_server() -> Iterator[ContractServer]:
    server = ContractServer().start()
    yield server
    server.stop()


@pytest.fixture
def contract(contract_server: ContractServer) -> ContractServer:
    """The loopback contract server, freshly reset; skips when a real server is the target."""
    if os.environ.get(_ENV[0]):
        pytest.skip("needs the loopback contract server's controls")
    contract_server.state.reset()
    return contract_server


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Target:
    """Base URL and credentials of the server under test."""
    base_url, client_id, client_secret = (os.environ.get(name) for name in _ENV)
    if base_url:
        if not (client_id and client_secret):
            pytest.fail(f"{_ENV[0]} is set: set {_ENV[1]} and {_ENV[2]} too")
        return Target(base_url, client_id, client_secret, loopback=False)
    server: ContractServer = request.getfixturevalue("contract")
    return Target(server.base_url, server.state.client_id, server.state.client_secret, True)


@pytest.fixture
def config(target: Target) -> ClientConfig:
    return ClientConfig(
        base_url=target.base_url,
        client_id=target.client_id,
        client_secret=target.client_secret,
        max_retry_wait=1.0,
    )


# Every secret these tests handle has the `cgs_` prefix of credgate's client secrets, and every
# access token is a JWT (`eyJ...`). Neither may reach a log line, at any level, from any logger.
# (A `WWW-Authenticate: Basic realm=...` challenge is no secret; Basic credentials are.)
_SECRET = re.compile(r"cgs_|eyJ|Basic [A-Za-z0-9+/]{12,}|Bearer [A-Za-z0-9._~+/-]{12,}")


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Run every SDK test with all loggers (httpx and httpcore included) at DEBUG, then check
    that nothing logged while setting up or running it holds a secret or a token."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "credgate", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    for phase in ("setup", "call"):
        for record in caplog.get_records(phase):
            line = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
            leaked = _SECRET.findall(line)
            assert not leaked, f"{record.name} logged {leaked}: {record.getMessage()[:200]}"
