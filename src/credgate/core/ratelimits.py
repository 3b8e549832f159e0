"""Per-credential rate limits of the protected APIs, counted with the ``limits`` library.

Each API family (its permission: ``nql``, ``workflows``, ...) has a limit per API credential:
the credential's own override when it has one, else the family's setting
(``CREDGATE_RATE_LIMIT_<FAMILY>``), else ``CREDGATE_RATE_LIMIT_DEFAULT``; none of them set means
no limit. A limit is one ``limits`` string, ``60/minute`` or ``1000 per hour``.

Counting uses the moving-window strategy: at most N requests in any window of the given length.
With ``CREDGATE_REDIS_URL`` every node counts in one Redis, so the limit holds across a cluster;
without it each process counts in its own memory.

:class:`RateLimitMiddleware` applies them in front of every route: it learns the family of a
request from the protected path table and its credential from a ``caller`` callable the
composition root gives it (the bearer guard's verdict), counts only requests whose token would
be accepted, and answers an exceeded limit with 429, ``Retry-After`` and the IETF httpapi
``RateLimit-Policy`` / ``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers), which allowed
answers carry too.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from credgate.core.asgi import ASGIApp, Message, Receive, Scope, Send, json_response
from credgate.core.permissions import ENRICHMENT, NQL, SPARK, WORKFLOWS

# The counters are imported when a limiter is built or a limit parsed, not with the settings
# that check a limit's syntax: the command line loads the settings and never counts.
if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow

__all__ = [
    "Caller",
    "Decision",
    "RateLimitMiddleware",
    "RateLimiter",
    "check_limit",
    "parse_limit",
]

log = logging.getLogger("credgate.ratelimits")

LIMIT_FORMAT = "one limit such as 60/minute or 1000 per hour"
MAX_LIMIT_LENGTH = 100
REDIS_TIMEOUT = 0.5
"""Seconds a count may wait for Redis before the request is served uncounted."""
STORE_RETRY_SECONDS = 5.0
"""After a failure, how long requests are served uncounted before the store is tried again."""

Caller = Callable[[Scope, str], Awaitable[tuple[str, str | None] | None]]
"""Who is calling a family's route: ``(client id, the credential's override or None)`` when the
request carries a token that route would accept, else None (the route answers it, uncounted)."""


def parse_limit(text: str) -> RateLimitItem:
    """One limit, ``60/minute``; a ValueError saying what is expected otherwise."""
    from limits import parse_many

    if len(text) > MAX_LIMIT_LENGTH:
        raise ValueError(f"a rate limit is at most {MAX_LIMIT_LENGTH} characters")
    try:
        items = parse_many(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a rate limit: give {LIMIT_FORMAT}") from None
    if len(items) != 1:
        raise ValueError(f"{text.strip()!r}: give {LIMIT_FORMAT}, not several")
    if items[0].amount < 1:
        raise ValueError(f"{text.strip()!r}: a limit allows at least one request")
    return items[0]


def check_limit(text: str | None) -> str | None:
    """The stored form of a limit: stripped, checked; None for no value (empty or None)."""
    if text is None or not text.strip():
        return None
    parse_limit(text)
    return text.strip()


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of counting one request, with what the RateLimit fields say about it."""

    allowed: bool
    family: str
    limit: RateLimitItem
    remaining: int
    reset_after: int
    """Whole seconds until the oldest request in the window leaves it (at least 1)."""

    def headers(self) -> list[tuple[bytes, bytes]]:
        policy = f'"{self.family}";q={self.limit.amount};w={self.limit.get_expiry()}'
        state = f'"{self.family}";r={self.remaining};t={self.reset_after}'
        fields = [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]
        if not self.allowed:
            fields.append((b"retry-after", str(self.reset_after).encode()))
        return fields

    @property
    def message(self) -> str:
        return (
            f"rate limit of {self.limit.amount} requests per {self.limit.get_expiry()} seconds "
            f"exceeded for this API credential; retry after {self.reset_after} seconds"
        )


class _Counter(Protocol):
    async def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, float, int]: ...


class _MemoryCounter:
    """One process's counts: a few dictionary operations under a lock, so run on the loop."""

    def __init__(self) -> None:
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, float, int]:
        allowed = self._limiter.hit(item, *identifiers)
        stats = self._limiter.get_window_stats(item, *identifiers)
        return allowed, stats.reset_time, stats.remaining


class _RedisCounter:
    """Counts shared by every node, in Redis (asynchronous client: the loop never waits)."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = prefix
        self._limiter: AsyncMovingWindow | None = None

    def _get(self) -> AsyncMovingWindow:
        # Built on first use, inside the serving event loop the client's connections belong to.
        if self._limiter is None:
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow

            storage = RedisStorage(
                f"async+{self._url}",
                implementation="redispy",
                key_prefix=self._prefix,
                # An unreachable Redis must cost a request a moment, not a TCP time-out.
                socket_connect_timeout=REDIS_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT,
            )
            self._limiter = AsyncMovingWindow(storage)
        return self._limiter

    async def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, float, int]:
        limiter = self._get()
        allowed = await limiter.hit(item, *identifiers)
        stats = await limiter.get_window_stats(item, *identifiers)
        return allowed, stats.reset_time, stats.remaining


class RateLimiter:
    """Which limit applies to a credential's use of a family, and counting against it."""

    def __init__(
        self,
        families: Mapping[str, str | None],
        *,
        default: str | None = None,
        redis_url: str | None = None,
        key_prefix: str = "credgate",
    ) -> None:
        fallback = parse_limit(default) if default else None
        self._families = {
            family: parse_limit(text) if text else fallback for family, text in families.items()
        }
        self._fallback = fallback
        self._overrides: dict[str, RateLimitItem] = {}
        self._counter: _Counter = (
            _RedisCounter(redis_url, key_prefix) if redis_url else _MemoryCounter()
        )
        self._failing_since = -math.inf
        self._retry_store_at = -math.inf

    def limit_for(self, family: str, override: str | None) -> RateLimitItem | None:
        if override:
            item = self._overrides.get(override)
            if item is None:
                # Checked when stored; one that no longer parses counts as no override.
                try:
                    item = parse_limit(override)
                except ValueError:
                    return self._families.get(family, self._fallback)
                self._overrides[override] = item
            return item
        return self._families.get(family, self._fallback)

    async def hit(self, family: str, client_id: str, override: str | None) -> Decision | None:
        """Count one request; None when no limit applies or the shared store cannot be reached
        (the request is then served: an unreachable Redis must not stop the APIs)."""
        item = self.limit_for(family, override)
        if item is None or time.monotonic() < self._retry_store_at:
            return None
        try:
            allowed, reset_time, remaining = await self._counter.hit(item, family, client_id)
        except Exception:  # noqa: BLE001 - any storage failure: serve, and say so now and then
            now = time.monotonic()
            # Leave the store alone a moment, so that an outage does not slow every request.
            self._retry_store_at = now + STORE_RETRY_SECONDS
            if now - self._failing_since > 60:
                self._failing_since = now
                log.warning("rate-limit store unavailable; requests are not being counted")
            return None
        return Decision(
            allowed=allowed,
            family=family,
            limit=item,
            remaining=max(0, remaining),
            reset_after=max(1, math.ceil(reset_time - time.time())),
        )


def _error_body(family: str, message: str) -> dict[str, object]:
    """A 429 body in the shape the family's published document gives its errors."""
    if family == WORKFLOWS.id:
        return {"code": "TOO_MANY_REQUESTS", "details": message}
    if family == NQL.id:
        return {"code": 429, "message": message}
    if family in (ENRICHMENT.id, SPARK.id):
        return {"message": message}
    # Remote Actions, Campaigns, Data management, and the classic APIs.
    return {"code": "TOO_MANY_REQUESTS", "message": message}


class RateLimitMiddleware:
    """Counts each request to a protected family against its credential's limit."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        *,
        family_of: Callable[[str], str | None],
        caller: Caller,
        on_limited: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.family_of = family_of
        self.caller = caller
        self.on_limited = on_limited or (lambda _family: None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        family = self.family_of(scope["path"])
        who = await self.caller(scope, family) if family is not None else None
        if family is None or who is None:
            await self.app(scope, receive, send)
            return
        # Most credentials of most installations have no limit: no counting call for them.
        if self.limiter.limit_for(family, who[1]) is None:
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.hit(family, *who)
        if decision is None:
            await self.app(scope, receive, send)
            return
        fields = decision.headers()
        if not decision.allowed:
            self.on_limited(family)
            body = _error_body(family, decision.message)
            await json_response(429, body, extra_headers=fields)(scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *fields]
            await send(message)

        await self.app(scope, receive, send_with_fields)
