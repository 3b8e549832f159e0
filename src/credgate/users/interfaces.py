"""What the classic users feature offers to other features; nothing else of it may be imported by
them.

Classic's Basic authentication checks a user's password and reads the user's profile: it is
given a :data:`PasswordCheck` (the container binds ``UserService.check_password``, run off the
event loop) and sees the user as a :class:`PasswordUser`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["PasswordCheck", "PasswordUser", "UserProfile"]


class UserProfile(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def data_privacy(self) -> str: ...
    @property
    def finder_access(self) -> bool: ...


class PasswordUser(Protocol):
    """A user whose password was just checked (enabled, password right)."""

    @property
    def username(self) -> str: ...
    @property
    def profile(self) -> UserProfile: ...


PasswordCheck = Callable[[str, str], Awaitable[PasswordUser | None]]
"""The user when the username and password are right and the account enabled, else None; the
same cost whether or not the user exists."""
