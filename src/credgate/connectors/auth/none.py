"""No authorization: the URL alone grants access (typical of incoming-webhook URLs)."""

from __future__ import annotations

from collections.abc import Generator

import httpx

__all__ = ["NoAuth"]


class NoAuth(httpx.Auth):
    """Sends the request unchanged."""

    def __repr__(self) -> str:
        return "NoAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request
