"""Bearer tokens for the platform APIs: fetched, cached, renewed, retried.

The protocol logic is sans-IO, in the manner of `httpx.Auth.auth_flow`: `TokenFlow` holds the
cached token and offers two generators that yield what must happen next and receive what came of
it. They never touch a socket, a clock they were not given, a lock or a sleep, so a test can drive
them by hand with `next()` and `.send()`.

- `TokenFlow.token_flow()` yields the token request (RFC 6749 section 4.4.2) or a `Sleep` after a
  429, receives the `httpx.Response`, and returns the new access token (section 4.4.3 / 5.1), or
  raises `TokenError` (section 5.2) or `RateLimitedError`.
- `TokenFlow.request_flow(request)` yields `NeedToken` (answer: a token string), the API request
  with its `Authorization: Bearer` header (RFC 6750 section 2.1), or a `Sleep`. It renews the
  token and retries exactly once on a 401, and on a 429 waits for `Retry-After` (RFC 9110
  section 10.2.3), capped, a bounded number of times.

`CredgateAuth` is the `httpx.Auth` that runs these generators for `httpx.Client` and
`httpx.AsyncClient`. It adds the I/O: the sleeps, and a lock that makes token fetching
single-flight, so that many threads (sync) or tasks (async) sharing one client cause one token
request per token lifetime.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

from ._config import ClientConfig
from ._errors import RateLimitedError, TokenError

__all__ = ["CredgateAuth", "NeedToken", "Sleep", "TokenFlow"]

logger = logging.getLogger("credgate.client")

USER_AGENT = "credgate-client"
_DEFAULT_LIFETIME = 900  # the contract's token lifetime, used if a server omits expires_in


@dataclass(frozen=True, slots=True)
class Sleep:
    """Step: wait this many seconds, then send None back."""

    seconds: float


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Step: send back a usable access token other than `stale` (the one a 401 refused)."""

    stale: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str = field(repr=False)
    renew_at: float


def _utcnow() -> datetime:
    return datetime.now(UTC)


def retry_after_seconds(
    response: httpx.Response, now: Callable[[], datetime] = _utcnow
) -> float | None:
    """`Retry-After` as seconds: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def _response(value: object) -> httpx.Response:
    if not isinstance(value, httpx.Response):
        raise TypeError(f"the flow expected an httpx.Response, got {type(value).__name__}")
    return value


def _token_value(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the flow expected an access token string, got {type(value).__name__}")
    return value


class TokenFlow:
    """Sans-IO token state for one client: one cached token, renewed ahead of expiry."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._token: _Token | None = None

    def __repr__(self) -> str:
        state = "cached" if self._token is not None else "none"
        return (
            f"TokenFlow(token_url={self._config.token_url!r}, "
            f"client_id={self._config.client_id!r}, client_secret='**********', token={state})"
        )

    def current(self, stale: str | None = None) -> str | None:
        """The cached token if it is not due for renewal and is not `stale`; else None."""
        token = self._token
        if token is None or token.value == stale or self._clock() >= token.renew_at:
            return None
        return token.value

    def build_token_request(self) -> httpx.Request:
        """The client credentials request of RFC 6749 section 4.4.2."""
        config = self._config
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
        }
        if config.token_auth_method == "client_secret_basic":
            # RFC 6749 section 2.3.1: id and secret are form-encoded, then joined by ":" for
            # HTTP Basic (RFC 7617). For the usual unreserved characters this is the identity.
            pair = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = config.client_id
            form["client_secret"] = config.client_secret
        return httpx.Request(
            "POST", config.token_url, headers=headers, content=urlencode(form).encode()
        )

    def retry_wait(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` after a 429, capped."""
        hint = retry_after_seconds(response, self._wall_clock)
        wait = hint if hint is not None else float(2 ** (attempt - 1))
        return min(wait, self._config.max_retry_wait)

    def token_flow(self) -> Generator[httpx.Request | Sleep, object, str]:
        """Fetch a new token: yields the request (and any 429 waits); returns the token."""
        attempt = 0
        while True:
            logger.debug(
                "requesting an access token from %s for client %s",
                self._config.token_url,
                self._config.client_id,
            )
            response = _response((yield self.build_token_request()))
            if response.status_code == 429 and attempt < self._config.max_rate_limit_retries:
                attempt += 1
                wait = self.retry_wait(response, attempt)
                logger.debug("token endpoint answered 429; retry %d in %.2fs", attempt, wait)
                yield Sleep(wait)
                continue
            return self.accept_token_response(response)

    def accept_token_response(self, response: httpx.Response) -> str:
        """Cache the token of a section 5.1 response, or raise the section 5.2 error."""
        status = response.status_code
        body = _json_or_none(response)
        if status == 429:
            retry_after = retry_after_seconds(response, self._wall_clock)
            raise RateLimitedError(
                f"token endpoint answered 429 after {self._config.max_rate_limit_retries} retries",
                status_code=429,
                retry_after=retry_after,
                body=body,
            )
        if status != 200:
            error = description = None
            if isinstance(body, dict):
                error = body.get("error") if isinstance(body.get("error"), str) else None
                raw_description = body.get("error_description")
                description = raw_description if isinstance(raw_description, str) else None
            message = f"token endpoint answered {status}"
            if error:
                message += f" [{error}]"
            if description:
                message += f": {description}"
            raise TokenError(
                message, status_code=status, error=error, error_description=description
            )
        if not isinstance(body, dict):
            raise TokenError("token endpoint answered 200 without a JSON object", status_code=200)
        value = body.get("access_token")
        token_type = body.get("token_type")
        expires_in = body.get("expires_in", _DEFAULT_LIFETIME)
        if not isinstance(value, str) or not value:
            raise TokenError("token response has no access_token", status_code=200)
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TokenError(
                f"token response has token_type {token_type!r}, expected 'Bearer'",
                status_code=200,
            )
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            raise TokenError("token response has a non-numeric expires_in", status_code=200)
        now = self._clock()
        lifetime = max(0.0, float(expires_in))
        margin = min(self._config.renew_margin, lifetime / 10)
        self._token = _Token(value=value, renew_at=now + lifetime - margin)
        logger.debug(
            "access token issued to client %s, expires in %ss", self._config.client_id, expires_in
        )
        return value

    def request_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request | Sleep | NeedToken, object, None]:
        """Send `request` with a bearer token; one renewal on 401, bounded waits on 429."""
        token = _token_value((yield NeedToken()))
        renewed = False
        attempt = 0
        while True:
            request.headers["Authorization"] = f"Bearer {token}"
            response = _response((yield request))
            if response.status_code == 401 and not renewed:
                renewed = True
                logger.debug(
                    "%s %s answered 401; renewing the token, retrying once",
                    request.method,
                    request.url.path,
                )
                token = _token_value((yield NeedToken(stale=token)))
                continue
            if response.status_code == 429 and attempt < self._config.max_rate_limit_retries:
                attempt += 1
                wait = self.retry_wait(response, attempt)
                logger.debug(
                    "%s %s answered 429; retry %d in %.2fs",
                    request.method,
                    request.url.path,
                    attempt,
                    wait,
                )
                yield Sleep(wait)
                continue
            return


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class CredgateAuth(httpx.Auth):
    """`httpx.Auth` running `TokenFlow` with sleeps and a single-flight token lock."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.flow = TokenFlow(config, clock=clock)
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        self._task_lock: asyncio.Lock | None = None
        self._task_lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"CredgateAuth({self.flow!r})"

    # httpx.Auth.auth_flow is not used: both drivers below are overridden.

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()  # so that a retry can send the body again
        steps = self.flow.request_flow(request)
        reply: object = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration:
                return
            if isinstance(step, NeedToken):
                reply = yield from self._sync_token(step.stale)
            elif isinstance(step, Sleep):
                self._sleep(step.seconds)
                reply = None
            else:
                reply = yield step

    def _sync_token(self, stale: str | None) -> Generator[httpx.Request, httpx.Response, str]:
        token = self.flow.current(stale)
        if token is not None:
            return token
        with self._thread_lock:
            token = self.flow.current(stale)  # another thread may have renewed it meanwhile
            if token is not None:
                return token
            return (yield from self._sync_fetch())

    def _sync_fetch(self) -> Generator[httpx.Request, httpx.Response, str]:
        """`TokenFlow.token_flow` with its waits slept and each response read before it goes
        back in."""
        fetch = self.flow.token_flow()
        reply: object = None
        while True:
            try:
                step = fetch.send(reply)
            except StopIteration as done:
                return _token_value(done.value)
            if isinstance(step, Sleep):
                self._sleep(step.seconds)
                reply = None
            else:
                response = yield step
                response.read()
                reply = response

    def fetch_token(self, send: Callable[[httpx.Request], httpx.Response]) -> str:
        """A new access token, each request sent with the blocking `send`: a token on its own
        (as `credgate token` prints one), fetched as the clients fetch theirs."""
        with self._thread_lock:
            steps = self._sync_fetch()
            request = next(steps)
            while True:
                try:
                    request = steps.send(send(request))
                except StopIteration as done:
                    return _token_value(done.value)

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._task_lock is None or self._task_lock_loop is not loop:
            self._task_lock = asyncio.Lock()
            self._task_lock_loop = loop
        return self._task_lock

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        steps = self.flow.request_flow(request)
        reply: object = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration:
                return
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                reply = None
            elif isinstance(step, httpx.Request):
                reply = yield step
            else:
                # Async generators cannot `yield from`, so the token fetch is driven inline.
                token = self.flow.current(step.stale)
                if token is None:
                    async with self._async_lock():
                        token = self.flow.current(step.stale)
                        if token is None:
                            fetch = self.flow.token_flow()
                            fetched: object = None
                            while True:
                                try:
                                    fetch_step = fetch.send(fetched)
                                except StopIteration as done:
                                    token = _token_value(done.value)
                                    break
                                if isinstance(fetch_step, Sleep):
                                    await asyncio.sleep(fetch_step.seconds)
                                    fetched = None
                                else:
                                    response = yield fetch_step
                                    await response.aread()
                                    fetched = response
                reply = token
