"""The token endpoint: the client credentials grant, `RFC 6749 §4.4
<https://www.rfc-editor.org/rfc/rfc6749#section-4.4>`_, and client authentication (§2.3.1).

Framework-free: :meth:`TokenEndpoint.handle` takes the raw pieces of a request and returns a
:class:`~credgate.core.asgi.PlainResponse`. The adapter in :mod:`credgate.oauth.routes` is a plain
ASGI callable, because framework form parsing costs more than signing the token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _string
from urllib.parse import unquote, unquote_to_bytes

from credgate.core.asgi import PlainResponse
from credgate.core.permissions import BY_ID, CATALOGUE, INTEGRATION_SCOPE, SCOPE_ALIASES
from credgate.oauth.clients import ClientRecord, ClientRegistry
from credgate.oauth.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    OAuth2Error,
    TemporarilyUnavailable,
    UnsupportedGrantType,
)
from credgate.oauth.rfc9068 import issue_access_token
from credgate.security.keys import KeySet
from credgate.security.secrets import SecretHasher, has_valid_checksum
from credgate.security.throttle import AuthThrottle, network_of

__all__ = [
    "AuthenticatedClient",
    "ClientAuthenticator",
    "FormPost",
    "TokenEndpoint",
    "parse_form",
]

log = logging.getLogger("credgate.oauth")

GRANT_CLIENT_CREDENTIALS = "client_credentials"
_FORM = b"application/x-www-form-urlencoded"
_MAX_ID = 200
_MAX_SECRET = 512
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]
_ORDER = {p.id: i for i, p in enumerate(CATALOGUE)}


def _unquote_plus(text: str) -> str:
    """``unquote_plus``, the same result for half the cost on the ASCII text forms carry.

    For ASCII input ``unquote`` splits off no non-ASCII run and returns exactly
    ``unquote_to_bytes(text).decode("utf-8", "replace")``; other text takes its own path.
    """
    text = text.replace("+", " ")
    if text.isascii():
        return unquote_to_bytes(text).decode("utf-8", "replace")
    return unquote(text)


def parse_form(content_type: bytes | None, body: bytes, *, allow_empty: bool) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body (RFC 6749 §3.2, Appendix B).

    §3.1: "Parameters sent without a value MUST be treated as if they were omitted from the
    request" and "Request and response parameters MUST NOT be included more than once."
    """
    if not body:
        if allow_empty:
            return {}
        raise InvalidRequest("the request body is empty; send grant_type=client_credentials")
    # The header as clients send it needs no parsing; parameters and case variants do.
    if content_type != _FORM and (content_type or b"").split(b";", 1)[0].strip().lower() != _FORM:
        raise InvalidRequest("the content type must be application/x-www-form-urlencoded")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the form body is not valid UTF-8") from exc
    # A lean x-www-form-urlencoded decoder (WHATWG URL §5.1): split on "&" and "=", and
    # percent-decode only the pairs that need it. It is several times faster than parse_qsl on
    # the short bodies of a token request.
    form: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        # Each half is decoded only when it needs it: a token request's names never do.
        if "%" in name or "+" in name:
            name = _unquote_plus(name)
        if "%" in value or "+" in value:
            value = _unquote_plus(value)
        if not value:
            continue  # §3.1: a parameter without a value counts as omitted
        if name in form:
            raise InvalidRequest(f"the parameter {name!r} is repeated")
        form[name] = value
        if len(form) > 32:
            raise InvalidRequest("too many form parameters")
    return form


@dataclass(frozen=True, slots=True)
class FormPost:
    """A form POST to the token, introspection or revocation endpoint: the pieces its form
    and its client authentication are read from."""

    content_type: bytes | None
    authorization: bytes | None = field(repr=False)  # may hold the client secret
    body: bytes = field(repr=False)  # may hold the client secret or a token
    address: str


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    record: ClientRecord
    used_basic: bool


class ClientAuthenticator:
    """Client authentication with ``client_secret_basic`` or ``client_secret_post``.

    Every failure reads the same ("client authentication failed"): the answer never says
    whether the client id or the secret was wrong.
    """

    def __init__(
        self, registry: ClientRegistry, hasher: SecretHasher, throttle: AuthThrottle
    ) -> None:
        self._registry = registry
        self._hasher = hasher
        self._throttle = throttle

    @staticmethod
    def _credentials(authorization: bytes | None, form: dict[str, str]) -> tuple[str, str, bool]:
        in_form = "client_secret" in form
        if authorization is not None:
            scheme, _, value = authorization.partition(b" ")
            if scheme.lower() != b"basic":
                raise InvalidClient("use HTTP Basic (client_secret_basic) or client_secret_post")
            if in_form:
                raise InvalidRequest(
                    "use one client authentication method: Basic or the form, not both"
                )
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise InvalidClient("malformed Basic credentials") from exc
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                raise InvalidClient("malformed Basic credentials")
            # §2.3.1: the id and secret are form-encoded before Basic encoding.
            client_id = _unquote_plus(raw_id) if "%" in raw_id or "+" in raw_id else raw_id
            secret = (
                _unquote_plus(raw_secret) if "%" in raw_secret or "+" in raw_secret else raw_secret
            )
            if "client_id" in form and form["client_id"] != client_id:
                raise InvalidRequest("client_id in the body does not match the Basic credentials")
            return client_id, secret, True
        if in_form:
            if "client_id" not in form:
                raise InvalidRequest("client_secret was sent without client_id")
            return form["client_id"], form["client_secret"], False
        raise InvalidClient("client authentication is required (HTTP Basic)")

    async def authenticate(
        self, authorization: bytes | None, form: dict[str, str], address: str
    ) -> AuthenticatedClient:
        """The client, or an error; a valid secret is never refused.

        The secret is checked before any throttle is looked at: platforms that integrate many
        customers share egress addresses, and one customer's failures, or someone guessing a
        client id, must not lock the real client out. Checking first gives nothing away: a
        secret holds 256 random bits, so an answer per guess does not help to find one. The
        throttle still does its work on failures: they answer more slowly, then with 429, and
        a failure from an address or for a client id that is already refused answers 429 at
        once, without a database write.
        """
        client_id, secret, used_basic = self._credentials(authorization, form)
        record: ClientRecord | None = None
        ok = False
        if 0 < len(client_id) <= _MAX_ID and 0 < len(secret) <= _MAX_SECRET:
            # A client this node has cached is decided by the keyed-hash compare alone; the
            # checksum only spares the database a lookup for a secret that cannot be real.
            record = self._registry.cached(client_id)
            if record is None and has_valid_checksum(secret):
                record = await self._registry.aget(client_id)
            if record is not None:
                ok = record.check_secret(self._hasher, secret, time.time()) and record.active
        if ok and record is not None:
            return AuthenticatedClient(record, used_basic)
        keys = [f"addr:{network_of(address)}"]
        if 0 < len(client_id) <= _MAX_ID:
            keys.append(f"client:{client_id}")
        refused = [wait for key in keys if (wait := self._throttle.retry_after(key)) is not None]
        if refused:
            retry_after: int | None = max(refused)
            delay = 0.0
        else:
            verdict = await self._throttle.failed(keys)
            retry_after, delay = verdict.retry_after, verdict.delay
        log.info(
            "client authentication failed",
            extra={
                "client_id": client_id[:_MAX_ID] if record is not None else "(unknown)",
                "address": address,
                "method": "basic" if used_basic else "post",
                "locked_out": retry_after is not None,
            },
        )
        if retry_after is not None:
            raise TemporarilyUnavailable(retry_after)
        if delay:
            await asyncio.sleep(delay)
        raise InvalidClient(basic=used_basic)

    async def named_token(self, post: FormPost) -> tuple[AuthenticatedClient, str]:
        """The authenticated caller of a revocation or introspection request and the ``token``
        it names (RFC 7009 §2.1, RFC 7662 §2.1: the same form and client authentication)."""
        form = parse_form(post.content_type, post.body, allow_empty=False)
        caller = await self.authenticate(post.authorization, form, post.address)
        token = form.get("token")
        if token is None:
            raise InvalidRequest("token is required")
        return caller, token


def resolve_scope(requested: str | None, held: frozenset[str]) -> tuple[tuple[str, ...], str]:
    """Map the ``scope`` parameter (§3.3) to permissions: (granted, scope to answer with).

    ``service:integration``, or no scope, grants every permission the client holds; permission
    scopes grant that subset. A scope the client does not hold, or one that does not exist, is
    ``invalid_scope``. Documented alternative names, among them the classic scopes
    (``service:nxql`` -> ``nql``, ...; the table is
    :data:`credgate.core.permissions.CLASSIC_SCOPES`), resolve through ``SCOPE_ALIASES``.
    """
    if requested is None or not requested.strip() or requested == INTEGRATION_SCOPE:
        return _in_order(held), INTEGRATION_SCOPE
    asked = list(dict.fromkeys(requested.split()))
    granted: set[str] = set()
    for scope in asked:
        if scope == INTEGRATION_SCOPE:
            granted |= held
            continue
        permission = scope if scope in BY_ID else SCOPE_ALIASES.get(scope)
        if permission is None:
            raise InvalidScope(f"unknown scope {scope!r}")
        if permission not in held:
            raise InvalidScope(f"this client does not hold the scope {scope!r}")
        granted.add(permission)
    return _in_order(frozenset(granted)), " ".join(asked)


@functools.lru_cache(maxsize=1024)
def _in_order(permissions: frozenset[str]) -> tuple[str, ...]:
    """Permissions in catalogue order. Cached: clients share a handful of permission sets, and
    a set is only ever made of catalogue ids (at most 2**len(CATALOGUE) of them)."""
    return tuple(sorted(permissions, key=_ORDER.__getitem__))


def _ignore(_value: str) -> None:
    return None


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class TokenEndpoint:
    """§4.4 client credentials grant; ``on_issued`` hears each client id given a token,
    ``on_error`` each error code answered."""

    authenticator: ClientAuthenticator
    keys: Callable[[], KeySet]
    issuer: str
    audience: str
    ttl: int
    on_issued: Callable[[str], None] = _ignore
    on_error: Callable[[str], None] = _ignore

    async def handle(self, post: FormPost, *, legacy: bool) -> PlainResponse:
        try:
            return await self._handle(post, legacy)
        except OAuth2Error as error:
            self.on_error(error.error)
            return error.response()

    async def _handle(self, post: FormPost, legacy: bool) -> PlainResponse:
        # The legacy endpoint is documented as called with a Basic header and no body at all.
        form = parse_form(post.content_type, post.body, allow_empty=legacy)
        client = await self.authenticator.authenticate(post.authorization, form, post.address)
        grant_type = form.get("grant_type", GRANT_CLIENT_CREDENTIALS if legacy else None)
        if grant_type is None:
            raise InvalidRequest("grant_type is required")
        if grant_type != GRANT_CLIENT_CREDENTIALS:
            raise UnsupportedGrantType(f"only {GRANT_CLIENT_CREDENTIALS} is supported")
        granted, answered_scope = resolve_scope(form.get("scope"), client.record.permissions)
        issued = issue_access_token(
            self.keys(),
            issuer=self.issuer,
            audience=self.audience,
            client_id=client.record.client_id,
            scopes=granted,
            ttl=self.ttl,
        )
        self.on_issued(client.record.client_id)
        # §5.1, and exactly the documented fields in the documented order. A fixed shape: the
        # scope goes through the json module's own escaper (tests compare with json.loads); the
        # token is base64url segments and dots, nothing to escape in its 600 characters.
        body_out = (
            f'{{"token_type":"Bearer","expires_in":{self.ttl:d},'
            f'"access_token":"{issued.access_token}","scope":{_string(answered_scope)}}}'
        ).encode()
        return PlainResponse(200, body_out, list(_HEADERS))
