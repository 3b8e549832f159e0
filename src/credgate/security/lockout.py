"""Password sign-in lock-out that cannot be turned against an account's owner.

Administrators (the admin pages and ``POST /admin/api/v1/session``) and classic users (HTTP
Basic on the classic APIs) sign in with passwords that people chose: few bits, so guessing must
be bounded in total. Locking the *account* after N failures bounds it, but hands anyone who
knows a username a switch that locks its owner out everywhere, for as long as they keep
failing. So failures are counted three ways, as keys of
:class:`~credgate.security.throttle.AuthThrottle`:

- per network (``<scope>-addr:<network>``, the short policy of ``auth_failure_*``): one place
  trying many accounts, or a burst;
- per account and network (``<scope>-pair:<network>|<username>``, the account policy of
  ``auth_account_*``): one place trying one account, over hours;
- per account, failures from *unfamiliar* networks only (``<scope>-account:<username>``, the
  account policy): the total, however many addresses the guesses come from.

A network is *familiar* to an account once the account has signed in from it (remembered in
``familiar_networks`` for ``auth_familiar_days`` after the last success). A familiar attempt is
refused only by its own account-and-network key: failures elsewhere, or by other accounts on
the same network, never lock it out, and its password is checked even while the network or the
account is refused to others. An unfamiliar attempt is refused before its password is checked
when any of its three keys is refused. Checking it anyway would turn the account's refusal into
an oracle (429 for a wrong password, 200 for the right one, from as many addresses as the
attacker has), and the network's into an argon2 verification per request for whoever sprays
usernames from there.

Only failures, and the first success from a network (written again once a day), touch the
database: a sign-in from a network this node already knows to be familiar costs nothing beyond
the password check.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from credgate.core.db import Database
from credgate.security.models import FamiliarNetwork
from credgate.security.throttle import AuthThrottle, Policy, network_of

__all__ = ["FamiliarNetworks", "LoginGuard", "TooManyAttempts"]

T = TypeVar("T")

MAX_USERNAME = 100
_REFRESH_SECONDS = 86400.0  # a familiar network's last success is written at most once a day
_POLL_SECONDS = 0.01
_MAX_WAIT_SECONDS = 10.0
_MAX_ENTRIES = 100_000


class TooManyAttempts(Exception):
    """The sign-in is refused (429) for ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


class FamiliarNetworks:
    """The networks each account has signed in from, in the database, read through a per-node
    cache of those known to be familiar (never of those that are not: another node may have
    seen a success since)."""

    def __init__(self, db: Database, *, keep_days: int) -> None:
        self._db = db
        self._keep = keep_days * 86400.0
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], float] = {}  # -> last success written (UNIX time)

    def _seen(self, account: str, network: str) -> float | None:
        with self._lock:
            return self._known.get((account, network))

    def _note(self, account: str, network: str, when: float) -> None:
        with self._lock:
            if len(self._known) >= _MAX_ENTRIES:
                self._known.clear()
            self._known[(account, network)] = when

    def cached(self, account: str, network: str, now: float) -> bool:
        """True when this node knows the network to be familiar. No I/O."""
        seen = self._seen(account, network)
        return seen is not None and seen > now - self._keep

    def is_familiar(self, account: str, network: str, now: float) -> bool:
        """Blocking: one read when the cache does not know."""
        if self.cached(account, network, now):
            return True
        with self._db.session() as session:
            row = session.get(FamiliarNetwork, (account, network))
            last = row.last_success.timestamp() if row is not None else None
        if last is None or last <= now - self._keep:
            return False
        self._note(account, network, last)
        return True

    def needs_write(self, account: str, network: str, now: float) -> bool:
        seen = self._seen(account, network)
        return seen is None or seen <= now - _REFRESH_SECONDS

    def remember(self, account: str, network: str, now: float) -> None:
        """Blocking: record a successful sign-in from ``network``."""
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        for attempt in range(3):
            try:
                with self._db.session() as session:
                    row = session.get(FamiliarNetwork, (account, network), with_for_update=True)
                    if row is None:
                        session.add(
                            FamiliarNetwork(account=account, network=network, last_success=moment)
                        )
                    elif row.last_success < moment:
                        row.last_success = moment
                break
            except IntegrityError:  # two nodes recorded the first success at once
                if attempt == 2:
                    raise
        self._note(account, network, now)

    def prune(self, now: float | None = None) -> None:
        """Forget networks whose last success is older than ``auth_familiar_days``."""
        now = time.time() if now is None else now
        cutoff = dt.datetime.fromtimestamp(now - self._keep, dt.UTC)
        with self._db.session() as session:
            session.execute(delete(FamiliarNetwork).where(FamiliarNetwork.last_success < cutoff))
        with self._lock:
            self._known = {k: v for k, v in self._known.items() if v > now - self._keep}


@dataclass(frozen=True, slots=True)
class _Attempt:
    account: str | None  # "<scope>:<username>"; None when the name cannot be an account
    network: str
    network_key: str
    pair_key: str
    account_key: str


class LoginGuard:
    """Smart lock-out for one kind of password sign-in (``scope``: ``login``, ``classic``)."""

    def __init__(
        self,
        throttle: AuthThrottle,
        familiar: FamiliarNetworks,
        *,
        scope: str,
        account_policy: Policy,
    ) -> None:
        self._throttle = throttle
        self._familiar = familiar
        self._scope = scope
        self._network_policy = throttle.policy
        self._account_policy = account_policy
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, valid until)

    def _attempt(self, username: str, address: str) -> _Attempt:
        network = network_of(address)
        scope = self._scope
        return _Attempt(
            account=f"{scope}:{username}" if 0 < len(username) <= MAX_USERNAME else None,
            network=network,
            network_key=f"{scope}-addr:{network}",
            pair_key=f"{scope}-pair:{network}|{username[:MAX_USERNAME]}",
            account_key=f"{scope}-account:{username[:MAX_USERNAME]}",
        )

    async def sign_in(
        self, username: str, address: str, verify: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """What ``verify()`` returns when the attempt may be checked; None for a wrong password
        (counted, and answered after the slow-down). Raises :class:`TooManyAttempts` when the
        attempt is refused, before the check or by the failure it made."""
        attempt = self._attempt(username, address)
        reserved = await self._admit(attempt)
        failure: tuple[int | None, float] | None = None
        try:
            result = None if attempt.account is None else await verify()
            if result is None:
                failure = await anyio.to_thread.run_sync(self._failed, attempt, time.time())
        finally:
            # Only now: a reservation ends when its failure is counted, not before.
            self._release(reserved)
        if failure is None:
            now = time.time()
            account = attempt.account
            if account is not None and self._familiar.needs_write(account, attempt.network, now):
                await anyio.to_thread.run_sync(
                    self._familiar.remember, account, attempt.network, now
                )
            return result
        retry_after, delay = failure
        if retry_after is not None:
            raise TooManyAttempts(retry_after)
        if delay:
            await anyio.sleep(delay)
        return None

    def _keys(self, attempt: _Attempt, *, familiar: bool) -> list[tuple[str, Policy]]:
        """The keys that may refuse the attempt before its check, and count its failure."""
        pair = (attempt.pair_key, self._account_policy)
        if familiar:
            return [pair]
        return [
            (attempt.network_key, self._network_policy),
            pair,
            (attempt.account_key, self._account_policy),
        ]

    async def _admit(self, attempt: _Attempt) -> list[str]:
        """Let the attempt be checked, reserving its keys, or raise :class:`TooManyAttempts`.

        Checks run side by side and a failure is counted only after its check, so without a
        reservation a burst of guesses sent at once would all be checked before the first
        failure was counted. An attempt therefore waits while its keys' recent failures and the
        checks in flight reach a limit; the wait ends in a check, or in a refusal once those
        failures are counted.
        """
        if attempt.account is None:
            return []
        # True, or None until the database is asked: the cache holds no "unfamiliar" answers,
        # and the database is asked only when an unfamiliar attempt would have to wait or stop.
        familiar = (
            True if self._familiar.cached(attempt.account, attempt.network, time.time()) else None
        )
        started = time.monotonic()
        while True:
            now = time.time()
            keys = self._keys(attempt, familiar=bool(familiar))
            with self._lock:
                refused = [
                    w for key, _ in keys if (w := self._throttle.retry_after(key, now)) is not None
                ]
                full = any(self._load(key, now) >= policy.limit for key, policy in keys)
                if not refused and not full:
                    for key, _ in keys:
                        self._in_flight[key] = self._in_flight.get(key, 0) + 1
                    return [key for key, _ in keys]
            if familiar is None:
                familiar = await anyio.to_thread.run_sync(
                    self._familiar.is_familiar, attempt.account, attempt.network, now
                )
                continue
            if refused:
                raise TooManyAttempts(max(refused))
            if time.monotonic() - started > _MAX_WAIT_SECONDS:
                raise TooManyAttempts(1)
            await anyio.sleep(_POLL_SECONDS)

    def _load(self, key: str, now: float) -> int:
        """Failures this node last heard of for ``key`` plus its checks in flight (under lock)."""
        failures, until = self._counts.get(key, (0, 0.0))
        return (failures if until > now else 0) + self._in_flight.get(key, 0)

    def _release(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                left = self._in_flight.get(key, 0) - 1
                if left > 0:
                    self._in_flight[key] = left
                else:
                    self._in_flight.pop(key, None)

    def _failed(self, attempt: _Attempt, now: float) -> tuple[int | None, float]:
        """Blocking: count a failure; return (Retry-After if the attempt is now refused, delay).

        The network counts every failure from it, familiar or not, and its slow-down applies to
        all of them; but a familiar attempt is answered 429 only when its own counter refuses
        it, so that its Retry-After means what it says.
        """
        keys = [(attempt.network_key, self._network_policy)]
        gate = list(keys)
        if attempt.account is not None:
            familiar = self._familiar.is_familiar(attempt.account, attempt.network, now)
            gate = self._keys(attempt, familiar=familiar)
            keys.append((attempt.pair_key, self._account_policy))
            if not familiar:
                keys.append((attempt.account_key, self._account_policy))
        verdict = self._throttle.record(keys, now)
        refused = [w for key, _ in gate if (w := self._throttle.retry_after(key, now)) is not None]
        with self._lock:
            if len(self._counts) >= _MAX_ENTRIES:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
                if len(self._counts) >= _MAX_ENTRIES:
                    self._counts.clear()
            for key, policy in keys:
                # Failures counted side by side may finish out of order: keep the highest count.
                known, until = self._counts.get(key, (0, 0.0))
                failures = max(verdict.failures[key], known if until > now else 0)
                self._counts[key] = (failures, now + policy.window)
        return (max(refused) if refused else None), verdict.delay
