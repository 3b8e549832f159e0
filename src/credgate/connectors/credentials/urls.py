"""Addresses in connector credentials: HTTPS instance URLs, SFTP hostnames, OAuth 2.0 endpoints.

Each check returns the normalised address, or raises :class:`UrlError` whose message says what
is wrong. Messages never repeat the submitted address: a pasted URL can carry a password in its
userinfo or a token in its path.

Normalisation (RFC 3986 section 6.2.2): the scheme and host are lower-cased, an internationalised
host is written in its IDNA form, an IPv4 address spelled as a number (``2130706433``,
``0x7f.1``) in dotted form, and an instance URL or SFTP hostname always ends with ``/``.
Whether credgate may connect to an address is decided by the validator's destination policy
(:mod:`credgate.core.destinations`), not here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import SplitResult, urlsplit, urlunsplit

from credgate.core.destinations import literal_address

__all__ = ["UrlError", "check_https_endpoint", "check_https_instance_url", "check_sftp_url"]

_LABEL: Final = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_HTTPS_EXAMPLE: Final = "https://{host}:{port}/ (the port is optional)"
_SFTP_EXAMPLE: Final = "sftp://{hostname}:{port}/"


class UrlError(ValueError):
    """An address was refused; the message is meant for the administrator."""


def check_https_instance_url(value: str) -> str:
    """An HTTPS instance URL, ``https://{host}:{port}/``: no path, query, fragment or userinfo.

    A missing trailing slash is accepted (``https://api.4me.com`` is plainly the same instance);
    the result always has it.
    """
    parts = _split(value, scheme="https", example=_HTTPS_EXAMPLE)
    _refuse_extras(value, parts, allow_path=False, allow_query=False, example=_HTTPS_EXAMPLE)
    host, port = _host_and_port(parts, port_required=False)
    return urlunsplit(("https", _netloc(host, port), "/", "", ""))


def check_sftp_url(value: str) -> str:
    """An SFTP hostname, ``sftp://{hostname}:{port}/``, where the scheme and port are required."""
    parts = _split(value, scheme="sftp", example=_SFTP_EXAMPLE)
    _refuse_extras(value, parts, allow_path=False, allow_query=False, example=_SFTP_EXAMPLE)
    host, port = _host_and_port(parts, port_required=True)
    return urlunsplit(("sftp", _netloc(host, port), "/", "", ""))


def check_https_endpoint(value: str) -> str:
    """An OAuth 2.0 authorization or token endpoint: an ``https`` URL that may have a path and a
    query but no fragment (RFC 6749 sections 3.1 and 3.2) and no userinfo."""
    parts = _split(value, scheme="https", example="https://{host}/{path}")
    _refuse_extras(value, parts, allow_path=True, allow_query=True, example="")
    host, port = _host_and_port(parts, port_required=False)
    return urlunsplit(("https", _netloc(host, port), parts.path or "/", parts.query, ""))


def _split(value: str, *, scheme: str, example: str) -> SplitResult:
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise UrlError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise UrlError(f"is not a valid URL; use the form {example}") from None
    found = parts.scheme.lower()
    if not found or not value.lower().startswith(found + "://"):
        raise UrlError(f"must start with {scheme}://; use the form {example}")
    if found != scheme:
        if scheme == "https" and found == "http":
            raise UrlError("must use https:// (plain http:// is not allowed)")
        shown = f", not {found}://" if _is_plain_scheme(found) else ""
        raise UrlError(f"must use {scheme}://{shown}; use the form {example}")
    return parts


def _is_plain_scheme(text: str) -> bool:
    return bool(re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", text))


def _refuse_extras(
    value: str, parts: SplitResult, *, allow_path: bool, allow_query: bool, example: str
) -> None:
    if "@" in parts.netloc:
        raise UrlError(
            "must not contain a username or password; enter them in the authorization fields"
        )
    if "#" in value:
        raise UrlError("must not have a fragment (#...)")
    if not allow_query and "?" in value:
        raise UrlError(f"must not have a query (?...); use the form {example}")
    if not allow_path and parts.path not in ("", "/"):
        raise UrlError(
            f"must be the instance address only, without a path; use the form {example} "
            "(the connector adds the resource path)"
        )


def _host_and_port(parts: SplitResult, *, port_required: bool) -> tuple[str, int | None]:
    try:
        port = parts.port
    except ValueError:
        raise UrlError("port must be a number from 1 to 65535") from None
    if port is not None and not 1 <= port <= 65535:
        raise UrlError("port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise UrlError("host is missing")
    host = _check_host(host)
    if port is None and port_required:
        raise UrlError("port is required, for example sftp://sftp.example.com:22/")
    return host, port


def _check_host(host: str) -> str:
    try:
        # An address in any spelling a resolver accepts (2130706433, 0x7f.1) is stored in its
        # usual form, so what is checked, shown and connected to is one and the same address.
        address = literal_address(host)
    except ValueError:
        raise UrlError("host is not a valid host name or IP address") from None
    if address is not None:
        return str(address)
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UrlError("host is not a valid host name") from None
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UrlError("host is not a valid host name")
    return ascii_host


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"
