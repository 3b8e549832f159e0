"""Throttling the passwords administrators type to confirm an action.

A password asked for again (to create a token from a session, to change a password, to reset
someone else's) must not let whoever holds a stolen session guess it at full speed: wrong
answers count against ``admin-password:<username>`` with the same policy as failed sign-ins,
and past the limit the check is refused, right password or not, until the lock-out ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from credgate.admins.services import WrongPasswordError
from credgate.security.throttle import AuthThrottle

__all__ = ["PasswordAttemptsExceeded", "password_checked"]

T = TypeVar("T")


class PasswordAttemptsExceeded(Exception):
    """Too many wrong confirmation passwords; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong passwords; retry after {retry_after} s")
        self.retry_after = retry_after


async def password_checked(throttle: AuthThrottle, username: str, call: Callable[[], T]) -> T:
    """Run ``call`` (a service call that checks a password) in a thread, throttled."""
    key = f"admin-password:{username}"
    wait = throttle.retry_after(key)
    if wait is not None:
        raise PasswordAttemptsExceeded(wait)
    try:
        return await anyio.to_thread.run_sync(call)
    except WrongPasswordError:
        verdict = await throttle.failed([key])
        if verdict.retry_after is not None:
            raise PasswordAttemptsExceeded(verdict.retry_after) from None
        if verdict.delay:
            await anyio.sleep(verdict.delay)
        raise
