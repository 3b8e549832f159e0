"""Password sign-in lock-out (admin pages, admin REST session, classic HTTP Basic) that an
attacker cannot turn against the account's owner, while guessing stays bounded in total.

Each test runs for the three ways to sign in with a password, on both storage back ends.
Addresses are the ASGI client address (TestClient's ``client=``) or, for concurrency, a real
server on loopback.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import time_machine
from starlette.testclient import TestClient

from credgate.app import create_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from support import ADMIN_PASSWORD, LiveServer, free_port

ACTOR = Actor("tests", "pytest")
CLASSIC_PASSWORD = "classic password 1234"
WRONG = "not the password 0000"
HOME = "198.51.100.7"
ACCOUNT_BUDGET = 30  # CREDGATE_AUTH_ACCOUNT_FAILURE_LIMIT's documented default


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Five failures per network (and per account and network); no slow-down, to keep it fast.
    return {"auth_failure_limit": 5, "auth_failure_slowdown_after": 100}


@dataclass
class SignIn:
    """One way to sign in with a password; answers "ok", "wrong" or "refused"."""

    kind: str
    container: Container
    app: Any
    username: str
    password: str
    checks: list[str] = field(default_factory=list)
    _clients: dict[tuple[int, str], TestClient] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    monkeypatch: pytest.MonkeyPatch | None = None

    def __call__(
        self, address: str, password: str, *, username: str | None = None, app: Any = None
    ) -> str:
        app = app or self.app
        name = username or self.username
        key = (id(app), address)
        client = self._clients.get(key)
        if client is None:
            client = TestClient(app, client=(address, 50000), base_url="http://127.0.0.1:8080")
            self._clients[key] = client
        if self.kind == "admin-api":
            status = client.post(
                "/admin/api/v1/session", json={"username": name, "password": password}
            ).status_code
            return _outcome(status, ok=200)
        if self.kind == "admin-ui":
            page = client.get("/admin/login")
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert match
            status = client.post(
                "/admin/login",
                data={"username": name, "password": password, "csrf_token": match.group(1)},
                follow_redirects=False,
            ).status_code
            return _outcome(status, ok=303)
        status = client.get("/api/configuration/v1/engines", auth=(name, password)).status_code
        return _outcome(status, ok=200)

    def spy(self, container: Container) -> None:
        """Note every password check the service really makes (the check itself still runs).

        The services are slotted dataclasses, so the spy goes on the class, for this instance.
        """
        service: Any = container.users if self.kind == "classic" else container.admins
        real = type(service).check_password

        def counted(this: Any, username: str, password: str) -> Any:
            if this is service:
                with self._lock:
                    self.checks.append(username)
            return real(this, username, password)

        assert self.monkeypatch is not None, "the sign_in fixture sets it"
        self.monkeypatch.setattr(type(service), "check_password", counted)


def _outcome(status: int, *, ok: int) -> str:
    outcomes = {ok: "ok", 401: "wrong", 429: "refused"}
    assert status in outcomes, status
    return outcomes[status]


@pytest.fixture(params=["admin-api", "admin-ui", "classic"])
def sign_in(
    request: pytest.FixtureRequest, container: Container, app: Any, monkeypatch: pytest.MonkeyPatch
) -> SignIn:
    kind = str(request.param)
    if kind != "classic":
        helper = SignIn(kind, container, app, "admin", ADMIN_PASSWORD)
    else:
        container.users.create_profile(
            "analysts", data_privacy="none", finder_access=True, actor=ACTOR
        )
        container.users.create_user("finder", CLASSIC_PASSWORD, profile="analysts", actor=ACTOR)
        helper = SignIn(kind, container, app, "finder", CLASSIC_PASSWORD)
    helper.monkeypatch = monkeypatch
    helper.spy(container)
    return helper


@pytest.fixture
def second_node(settings: Settings) -> Iterator[tuple[Container, Any]]:
    """Another node on the same database."""
    other = Container.open(settings)
    yield other, create_app(container=other)
    other.close()


def test_locked_out_at_one_address_signs_in_from_another(sign_in: SignIn) -> None:
    attacker = "203.0.113.9"
    assert [sign_in(attacker, WRONG) for _ in range(5)] == ["wrong"] * 4 + ["refused"]
    # That account from that network is locked, without its password being checked...
    checks = len(sign_in.checks)
    assert sign_in(attacker, sign_in.password) == "refused"
    assert len(sign_in.checks) == checks
    # ...and nowhere else.
    assert sign_in(HOME, sign_in.password) == "ok"


def test_familiar_network_is_not_locked_by_failures_elsewhere(
    sign_in: SignIn, second_node: tuple[Container, Any]
) -> None:
    other_container, other_app = second_node
    sign_in.spy(other_container)
    assert sign_in(HOME, sign_in.password) == "ok"  # on the first node: HOME becomes familiar
    # Guesses from many networks, each below its own limit, through the second node.
    outcomes = [
        sign_in(f"203.0.113.{i}", WRONG, app=other_app) for i in range(1, ACCOUNT_BUDGET + 11)
    ]
    assert outcomes == ["wrong"] * (ACCOUNT_BUDGET - 1) + ["refused"] * 11
    # The owner, at home, signs in through either node; home's own failures still count.
    assert sign_in(HOME, sign_in.password, app=other_app) == "ok"
    assert sign_in(HOME, sign_in.password) == "ok"
    assert sign_in(HOME, WRONG, app=other_app) == "wrong"
    # A network the account has never signed in from waits until the account window ends.
    assert sign_in("192.0.2.200", sign_in.password, app=other_app) == "refused"


def test_guesses_are_bounded_across_many_addresses(sign_in: SignIn) -> None:
    """An hour of guessing from a new address every time: the account's budget, no more."""
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        for step in range(12):  # ten guesses every five minutes
            for i in range(10):
                sign_in(f"10.{step}.{i}.1", WRONG)
            clock.shift(300)
        assert len(sign_in.checks) <= ACCOUNT_BUDGET
        checks = len(sign_in.checks)
        assert sign_in("192.0.2.77", sign_in.password) == "refused"
        assert len(sign_in.checks) == checks, "refused without checking the password"
        # The budget is per window: the next hour, new networks may try again.
        clock.shift(3600)
        assert sign_in("192.0.2.78", sign_in.password) == "ok"


def test_guesses_from_inside_a_familiar_network_are_bounded_too(sign_in: SignIn) -> None:
    """Someone inside the owner's own network, guessing below the per-minute limit, gets the
    account budget there and no more; the owner's other networks stay open."""
    assert sign_in(HOME, sign_in.password) == "ok"
    assert sign_in("192.0.2.10", sign_in.password) == "ok"  # another familiar network
    before = len(sign_in.checks)
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as clock:
        for _ in range(20):  # four a minute: under the network's limit of five
            for _ in range(4):
                sign_in(HOME, WRONG)
            clock.shift(60)
        assert len(sign_in.checks) - before <= ACCOUNT_BUDGET
        assert sign_in(HOME, sign_in.password) == "refused"
        assert sign_in("192.0.2.10", sign_in.password) == "ok"


def test_network_tripped_by_others_still_lets_a_familiar_account_in(sign_in: SignIn) -> None:
    """A shared egress address (an integration platform): other accounts' failures there."""
    egress = "203.0.113.50"
    assert sign_in(egress, sign_in.password) == "ok"
    others = [sign_in(egress, WRONG, username=f"someone{i}") for i in range(6)]
    assert others == ["wrong"] * 4 + ["refused"] * 2
    assert sign_in(egress, sign_in.password) == "ok"
    assert sign_in(egress, WRONG) == "wrong", "a typo is not answered with someone else's 429"
    assert sign_in(egress, sign_in.password) == "ok"
    # An account that never signed in from there is refused, without a check, while it lasts.
    checks = len(sign_in.checks)
    assert sign_in(egress, "some password", username="newcomer") == "refused"
    assert len(sign_in.checks) == checks


def test_burst_from_one_ipv6_network_ends_in_429(sign_in: SignIn) -> None:
    """An IPv6 host picks any address in its /64: one network, however many addresses."""
    outcomes = [sign_in(f"2001:db8:9:1::{i + 1:x}", WRONG, username=f"user{i}") for i in range(8)]
    assert outcomes == ["wrong"] * 4 + ["refused"] * 4


@pytest.mark.slow
def test_concurrent_guesses_are_checked_no_more_than_the_limit(
    sign_in: SignIn, container: Container
) -> None:
    """Guesses sent at once are not all checked before the first failure is counted."""
    port = free_port()
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def guess(n: int) -> None:
        password = f"{WRONG}{n}"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            if sign_in.kind == "admin-ui":
                page = http.get("/admin/login")
                match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert match
                form = {"username": "admin", "password": password, "csrf_token": match.group(1)}
                barrier.wait()
                answer = http.post("/admin/login", data=form)
            elif sign_in.kind == "admin-api":
                barrier.wait()
                answer = http.post(
                    "/admin/api/v1/session", json={"username": "admin", "password": password}
                )
            else:
                barrier.wait()
                answer = http.get("/api/configuration/v1/engines", auth=("finder", password))
            statuses.append(answer.status_code)

    with LiveServer(create_app(container=container), port):
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(statuses) == 12
    # Which of the checked ones answer 401 or 429 depends on the order their failures land in.
    assert set(statuses) <= {401, 429}, statuses
    assert 429 in statuses
    assert len(sign_in.checks) <= 5, f"{len(sign_in.checks)} guesses checked; the limit is 5"
