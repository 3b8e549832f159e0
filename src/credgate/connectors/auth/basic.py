"""HTTP Basic authorization (RFC 7617) with a username and password."""

from __future__ import annotations

import base64

from ._http import StaticHeaderAuth

__all__ = ["BasicAuth"]


class BasicAuth(StaticHeaderAuth):
    """Adds ``Authorization: Basic base64(username:password)`` (RFC 7617 §2).

    Refuses plain http to anything but loopback, since the password travels
    in clear text.
    """

    def __init__(self, username: str, password: str) -> None:
        if not username:
            raise ValueError("username must not be empty")
        if ":" in username:
            raise ValueError("username must not contain ':' (RFC 7617 §2)")
        if not password:
            raise ValueError("password must not be empty")
        for name, value in (("username", username), ("password", password)):
            if any(ch in value for ch in "\r\n\x00"):
                raise ValueError(f"{name} must not contain control characters")
        self.username = username
        pair = f"{username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(pair).decode("ascii")

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='[secure]')"
