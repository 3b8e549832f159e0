"""What the administrators' routes need from the composition root, besides their service.

The container builds these over the objects it owns and provides them by type
(:mod:`credgate.core.services`); the routes never see the container itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from credgate.security.keys import KeySet
from credgate.security.lockout import LoginGuard

__all__ = ["AdminLogins", "SigningKeys"]


@dataclass(frozen=True, slots=True)
class AdminLogins:
    """The smart lock-out of administrators' password sign-ins (classic users have their own
    :class:`LoginGuard`, so the guard is not provided under its bare type)."""

    guard: LoginGuard


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The signing keys as this process holds them: the published set, and a rotation that
    stores a new active key, tells the other nodes and reloads the set."""

    current: Callable[[], KeySet]
    rotate: Callable[[], str]
