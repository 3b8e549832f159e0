"""A static bearer token with a configurable header prefix."""

from __future__ import annotations

import re

from ._http import StaticHeaderAuth

__all__ = ["BearerAuth"]

# An HTTP auth-scheme is a token (RFC 9110 §11.1): no spaces, no separators.
_SCHEME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class BearerAuth(StaticHeaderAuth):
    """Adds ``Authorization: <header_prefix> <token>``.

    ``header_prefix`` defaults to ``Bearer`` (RFC 6750 §2.1) and an empty one
    means ``Bearer`` too; some services want ``Token`` or ``SSWS`` instead.
    """

    def __init__(self, token: str, header_prefix: str | None = "Bearer") -> None:
        if not token:
            raise ValueError("token must not be empty")
        if any(ch in token for ch in "\r\n\x00"):
            raise ValueError("token must not contain control characters")
        prefix = (header_prefix or "").strip() or "Bearer"
        if not _SCHEME.fullmatch(prefix):
            raise ValueError("header_prefix must be a single word such as 'Bearer' or 'Token'")
        self.header_prefix = prefix
        self._header = f"{prefix} {token}"

    def __repr__(self) -> str:
        return f"BearerAuth(token='[secure]', header_prefix={self.header_prefix!r})"
