"""What a connector credential is made of: protocols, authorization types and their fields.

The tables here are the single description of every authorization type; validation, the masked
view and (later) the storage layer and the forms all read them.

Secrets are held apart from the public fields. :class:`ValidatedCredential` keeps the public,
normalised fields in ``authorization`` and the secret fields in ``secrets``, a mapping of field
name to plaintext, so a storage layer can encrypt each secret on its own.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from credgate.connectors.hostkeys import HostKey, parse_host_key

__all__ = [
    "ALLOWED_AUTH_TYPES",
    "AUTH_FIELDS",
    "MASK",
    "OBTAINED_SECRET_FIELDS",
    "SECRET_BINDINGS",
    "SECRET_FIELDS",
    "AuthType",
    "FieldKind",
    "FieldSpec",
    "Protocol",
    "Secrets",
    "ValidatedCredential",
]

#: What a masked view shows in place of every secret. A form sent back with it keeps the stored
#: value (see ``validate_update``); it is never accepted as a value itself.
MASK: Final = "\u2022" * 8  # "••••••••"


class Protocol(enum.StrEnum):
    """How credgate reaches the third-party tool."""

    HTTPS = "HTTPS"
    SFTP = "SFTP"


class AuthType(enum.StrEnum):
    """How credgate authenticates to the third-party tool."""

    NONE = "NONE"
    BASIC = "BASIC"
    BEARER = "BEARER"
    OAUTH2_CLIENT_CREDENTIALS = "OAUTH2_CLIENT_CREDENTIALS"
    OAUTH2_AUTHORIZATION_CODE = "OAUTH2_AUTHORIZATION_CODE"


class FieldKind(enum.Enum):
    """How a field's value is checked and normalised."""

    TEXT = "text"  # stripped, no control characters
    HTTP_USERNAME = "http_username"  # TEXT without ":" (RFC 7617 section 2)
    PASSWORD = "password"  # secret, kept exactly as typed
    TOKEN = "token"  # secret, stripped, no control characters (it goes into a header)
    AUTH_SCHEME = "auth_scheme"  # an RFC 9110 section 11.1 auth-scheme token
    HTTPS_ENDPOINT = "https_endpoint"  # an https:// URL with a path (RFC 6749 sections 3.1, 3.2)
    SCOPE = "scope"  # RFC 6749 section 3.3 scope tokens separated by spaces
    HOST_KEY = "host_key"  # an OpenSSH public host key line


@dataclass(frozen=True)
class FieldSpec:
    """One field of an authorization type."""

    name: str
    kind: FieldKind
    max_length: int
    required: bool = True
    default: str | None = None

    @property
    def secret(self) -> bool:
        return self.kind in (FieldKind.PASSWORD, FieldKind.TOKEN)


_SECRET_MAX: Final = 8192  # bytes of UTF-8; 8 KiB holds any real password, token or secret
_USERNAME = FieldSpec("username", FieldKind.HTTP_USERNAME, 256)
_PASSWORD = FieldSpec("password", FieldKind.PASSWORD, _SECRET_MAX)
_CLIENT_ID = FieldSpec("client_id", FieldKind.TEXT, 1024)
_CLIENT_SECRET = FieldSpec("client_secret", FieldKind.TOKEN, _SECRET_MAX)
_TOKEN_URL = FieldSpec("access_token_url", FieldKind.HTTPS_ENDPOINT, 2048)
_SCOPE = FieldSpec("scope", FieldKind.SCOPE, 2048, required=False)

#: The fields of each authorization type, per protocol, in form order.
AUTH_FIELDS: Final[Mapping[tuple[Protocol, AuthType], tuple[FieldSpec, ...]]] = MappingProxyType(
    {
        (Protocol.HTTPS, AuthType.NONE): (),
        (Protocol.HTTPS, AuthType.BASIC): (_USERNAME, _PASSWORD),
        (Protocol.HTTPS, AuthType.BEARER): (
            FieldSpec("token", FieldKind.TOKEN, _SECRET_MAX),
            FieldSpec("header_prefix", FieldKind.AUTH_SCHEME, 64, required=False, default="Bearer"),
        ),
        (Protocol.HTTPS, AuthType.OAUTH2_CLIENT_CREDENTIALS): (
            _CLIENT_ID,
            _CLIENT_SECRET,
            _TOKEN_URL,
            _SCOPE,
        ),
        (Protocol.HTTPS, AuthType.OAUTH2_AUTHORIZATION_CODE): (
            _CLIENT_ID,
            _CLIENT_SECRET,
            FieldSpec("authorization_url", FieldKind.HTTPS_ENDPOINT, 2048),
            _TOKEN_URL,
            _SCOPE,
        ),
        (Protocol.SFTP, AuthType.BASIC): (
            FieldSpec("username", FieldKind.TEXT, 256),
            _PASSWORD,
            FieldSpec("host_key", FieldKind.HOST_KEY, 8192),
        ),
    }
)

#: Authorization types each protocol offers; the first is the default when none is given
#: (only SFTP has one: BASIC, as the documented form preselects it).
ALLOWED_AUTH_TYPES: Final[Mapping[Protocol, tuple[AuthType, ...]]] = MappingProxyType(
    {
        Protocol.HTTPS: (
            AuthType.NONE,
            AuthType.BASIC,
            AuthType.BEARER,
            AuthType.OAUTH2_CLIENT_CREDENTIALS,
            AuthType.OAUTH2_AUTHORIZATION_CODE,
        ),
        Protocol.SFTP: (AuthType.BASIC,),
    }
)

#: Secret fields an administrator enters, per authorization type.
SECRET_FIELDS: Final[Mapping[AuthType, frozenset[str]]] = MappingProxyType(
    {
        auth_type: frozenset(
            spec.name
            for (_, kind), specs in AUTH_FIELDS.items()
            if kind is auth_type
            for spec in specs
            if spec.secret
        )
        for auth_type in AuthType
    }
)

#: Secrets credgate obtains at run time and stores itself; never accepted from input.
OBTAINED_SECRET_FIELDS: Final[Mapping[AuthType, frozenset[str]]] = MappingProxyType(
    {
        AuthType.NONE: frozenset(),
        AuthType.BASIC: frozenset(),
        AuthType.BEARER: frozenset(),
        AuthType.OAUTH2_CLIENT_CREDENTIALS: frozenset({"access_token"}),
        AuthType.OAUTH2_AUTHORIZATION_CODE: frozenset({"access_token", "refresh_token"}),
    }
)

#: Where each type's secrets and the tokens obtained with them go: the fields that name the
#: destination. A secret is bound to the values these had when it was entered (the vault seals
#: it with them, see :meth:`ValidatedCredential.destination`): when one changes on an edit, the
#: stored secret is not kept behind the mask and the tokens and pending consent are dropped.
#: Otherwise anyone allowed to edit a credential could send its secret, or a token obtained with
#: it, to a server of their choosing without ever knowing it.
SECRET_BINDINGS: Final[Mapping[tuple[Protocol, AuthType], tuple[str, ...]]] = MappingProxyType(
    {
        (Protocol.HTTPS, AuthType.NONE): (),
        (Protocol.HTTPS, AuthType.BASIC): ("url",),
        (Protocol.HTTPS, AuthType.BEARER): ("url",),
        (Protocol.HTTPS, AuthType.OAUTH2_CLIENT_CREDENTIALS): (
            "url",
            "authorization.access_token_url",
        ),
        (Protocol.HTTPS, AuthType.OAUTH2_AUTHORIZATION_CODE): (
            "url",
            "authorization.authorization_url",
            "authorization.access_token_url",
        ),
        # the URL holds the host and the port
        (Protocol.SFTP, AuthType.BASIC): ("url", "authorization.host_key"),
    }
)


class Secrets(Mapping[str, str]):
    """Secret fields of one credential: field name -> plaintext.

    The values never show in ``repr`` or ``str``, and equality compares them in constant time.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(values or {})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        if set(self._values) != set(other.keys()):
            return False
        same = True
        for name, value in self._values.items():
            theirs = other[name]
            if not isinstance(theirs, str):
                return False
            same &= hmac.compare_digest(value.encode(), theirs.encode())
        return same

    __hash__ = None  # type: ignore[assignment]  # a mutable-looking mapping is not hashable

    def __repr__(self) -> str:
        return "Secrets(" + ", ".join(f"{name}=<hidden>" for name in self._values) + ")"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class ValidatedCredential:
    """A connector credential that passed validation, with every field normalised.

    ``authorization`` holds the public fields of ``auth_type`` (optional ones only when set,
    ``header_prefix`` always, ``host_key`` as the canonical OpenSSH line); ``secrets`` holds the
    secret fields, plaintext, for the storage layer to encrypt one by one.
    """

    name: str
    protocol: Protocol
    url: str
    auth_type: AuthType
    authorization: Mapping[str, str] = field(default_factory=dict, hash=False)
    secrets: Secrets = field(default_factory=Secrets, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "authorization", MappingProxyType(dict(self.authorization)))
        if not isinstance(self.secrets, Secrets):
            object.__setattr__(self, "secrets", Secrets(self.secrets))

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle rebuild through the constructor (a mappingproxy cannot be pickled)
        fields = (self.name, self.protocol, self.url, self.auth_type)
        return (type(self), (*fields, dict(self.authorization), Secrets(self.secrets)))

    @property
    def destination(self) -> tuple[tuple[str, str], ...]:
        """Where the secrets go: protocol, type and each field of :data:`SECRET_BINDINGS`."""
        pairs = [("protocol", self.protocol.value), ("authorization.type", self.auth_type.value)]
        for path in SECRET_BINDINGS[(self.protocol, self.auth_type)]:
            name = path.removeprefix("authorization.")
            pairs.append((path, self.url if path == "url" else self.authorization.get(name, "")))
        return tuple(pairs)

    @property
    def host_key(self) -> HostKey | None:
        """The pinned SSH host key of an SFTP credential."""
        line = self.authorization.get("host_key")
        return parse_host_key(line) if line else None

    def __repr__(self) -> str:
        return (
            f"ValidatedCredential(name={self.name!r}, protocol={self.protocol.value}, "
            f"url={self.url!r}, auth_type={self.auth_type.value}, "
            f"authorization={dict(self.authorization)!r}, secrets={self.secrets!r})"
        )
