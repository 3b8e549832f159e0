"""What the shared pages need to know about administrators' browser sessions.

The pages check a session and its form token through :class:`AdminSessions`; the admins'
service implements it and the container provides it (:mod:`credgate.core.services`), so the
shared UI layer knows no feature. Kept apart from :mod:`credgate.web.pages` so the composition
root can name it without importing the page machinery.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["AdminSessions", "SignedIn"]


class SignedIn(Protocol):
    """The administrator a session belongs to, as far as the shared pages need to know."""

    @property
    def username(self) -> str: ...


class AdminSessions(Protocol):
    """Checks a browser session, and the form token that goes with it."""

    def check_session(self, session_id: str) -> SignedIn | None: ...

    def check_csrf(self, identity: Any, csrf_token: str | None) -> bool: ...
