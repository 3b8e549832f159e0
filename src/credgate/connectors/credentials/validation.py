"""Validation of connector credentials as an admin API or a form posts them.

Input shape::

    {"name": "ServiceNow prod", "protocol": "HTTPS", "url": "https://ven01063.service-now.com/",
     "authorization": {"type": "BASIC", "username": "svc", "password": "..."}}

Rules:

- Every problem is reported at once, in one :class:`CredentialValidationError`, each naming its
  field with a dotted path (``authorization.client_secret``); nothing is half-accepted.
- Unknown fields are errors, so a typo (``pasword``) cannot silently drop a secret.
- ``protocol`` and ``type`` are matched without regard to case and normalised to upper case.
  For SFTP a missing ``type`` means BASIC, the only type it has.
- Text fields are stripped and must not contain control characters. Passwords are kept exactly
  as typed; tokens and client secrets are stripped (they never begin or end with spaces, and a
  pasted line break would corrupt a header).
- Secrets and the mask: :data:`MASK` is never accepted as a value. On an update, a secret equal
  to the mask keeps the stored value only if the protocol and authorization type are unchanged
  and every field that says where the secret goes (:data:`SECRET_BINDINGS`: the URL, the token
  and authorization URLs, the SFTP host key) is unchanged too; otherwise the administrator must
  enter the real value again.
- Destinations: the URL and the token URL, which credgate connects to, must not be addresses the
  destination policy refuses (loopback, private, link-local... in any spelling, see
  :mod:`credgate.core.destinations`). Host names are checked when connecting.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from credgate.connectors.credentials.errors import CredentialValidationError, FieldError
from credgate.connectors.credentials.schemas import (
    ALLOWED_AUTH_TYPES,
    AUTH_FIELDS,
    MASK,
    OBTAINED_SECRET_FIELDS,
    SECRET_BINDINGS,
    AuthType,
    FieldKind,
    FieldSpec,
    Protocol,
    Secrets,
    ValidatedCredential,
)
from credgate.connectors.credentials.urls import (
    UrlError,
    check_https_endpoint,
    check_https_instance_url,
    check_sftp_url,
)
from credgate.connectors.hostkeys import HostKeyError, parse_host_key
from credgate.core.destinations import STRICT, DestinationPolicy

__all__ = [
    "NAME_MAX_LENGTH",
    "URL_MAX_LENGTH",
    "masked_view",
    "obtained_tokens_outdated",
    "validate_create",
    "validate_update",
]

NAME_MAX_LENGTH: Final = 200
URL_MAX_LENGTH: Final = 2048
_TOP_LEVEL: Final = ("name", "protocol", "url", "authorization")
# RFC 9110 section 5.6.2: token = 1*tchar
_TCHARS: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN: Final = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_IDENTIFIER: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_E = TypeVar("_E", bound=enum.StrEnum)


def validate_create(
    data: object, *, destinations: DestinationPolicy = STRICT
) -> ValidatedCredential:
    """Validate a new credential. The mask is refused as a secret value; addresses that
    ``destinations`` refuses are refused."""
    return _Validator(data, stored=None, destinations=destinations).run()


def validate_update(
    data: object, stored: ValidatedCredential, *, destinations: DestinationPolicy = STRICT
) -> ValidatedCredential:
    """Validate an edited credential against the stored one.

    A secret sent back as :data:`MASK` keeps the stored value when the protocol, the
    authorization type and the destination the secret goes to are all unchanged; otherwise the
    mask is refused. Secrets of a previous authorization type are dropped. A new value replaces.
    """
    return _Validator(data, stored=stored, destinations=destinations).run()


def masked_view(cred: ValidatedCredential) -> dict[str, Any]:
    """The credential in its input shape, every secret shown as :data:`MASK`.

    Optional fields that are not set appear as ``""``, so a form gets every field of the type.
    Sending this view back through :func:`validate_update` gives the same credential.
    """
    authorization: dict[str, str] = {"type": cred.auth_type.value}
    for spec in AUTH_FIELDS[(cred.protocol, cred.auth_type)]:
        authorization[spec.name] = MASK if spec.secret else cred.authorization.get(spec.name, "")
    return {
        "name": cred.name,
        "protocol": cred.protocol.value,
        "url": cred.url,
        "authorization": authorization,
    }


def obtained_tokens_outdated(stored: ValidatedCredential, updated: ValidatedCredential) -> bool:
    """Whether tokens obtained with ``stored`` (an OAuth 2.0 access or refresh token) and a
    pending consent must be thrown away now that the credential reads ``updated``: the type,
    the destination (the instance URL the token is sent to, an endpoint), the client, its
    secret or the scope changed."""
    if stored.destination != updated.destination:
        return True
    if not OBTAINED_SECRET_FIELDS[updated.auth_type]:
        return False
    return (
        dict(stored.authorization) != dict(updated.authorization)
        or stored.secrets != updated.secrets
    )


class _Validator:
    """One validation run: reads the input once, collects every error, then decides."""

    def __init__(
        self, data: object, stored: ValidatedCredential | None, destinations: DestinationPolicy
    ) -> None:
        self.data = data
        self.stored = stored
        self.destinations = destinations
        self.errors: list[FieldError] = []

    def error(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def run(self) -> ValidatedCredential:
        data = self.data
        if not isinstance(data, Mapping):
            raise CredentialValidationError(
                [FieldError("", "must be an object with name, protocol, url and authorization")]
            )
        for key in data:
            if key not in _TOP_LEVEL:
                self.error(_field_name(key), "unknown field; allowed: " + ", ".join(_TOP_LEVEL))

        name = self.text(data.get("name"), "name", NAME_MAX_LENGTH, required=True)
        protocol = self.choice(data.get("protocol"), "protocol", Protocol, tuple(Protocol))
        url = self.url(data.get("url"), protocol)

        raw_auth = data.get("authorization")
        auth: Mapping[Any, Any] = {}
        if isinstance(raw_auth, Mapping):
            auth = raw_auth
        elif raw_auth is not None:
            self.error("authorization", "must be an object with a type and its fields")

        auth_type: AuthType | None = None
        if protocol is not None and (raw_auth is None or isinstance(raw_auth, Mapping)):
            allowed = ALLOWED_AUTH_TYPES[protocol]
            raw_type = auth.get("type")
            if (raw_type is None or raw_type == "") and protocol is Protocol.SFTP:
                auth_type = AuthType.BASIC
            else:
                auth_type = self.choice(raw_type, "authorization.type", AuthType, allowed)

        public: dict[str, str] = {}
        secrets: dict[str, str] = {}
        if protocol is not None and auth_type is not None:
            specs = AUTH_FIELDS[(protocol, auth_type)]
            self.unknown_auth_fields(auth, auth_type, specs)
            masked: list[FieldSpec] = []
            for spec in specs:
                raw = auth.get(spec.name)
                if spec.secret and isinstance(raw, str) and _is_mask(raw):
                    masked.append(spec)
                    continue
                value = self.auth_field(spec, raw)
                if value is not None:
                    (secrets if spec.secret else public)[spec.name] = value
            for spec in masked:
                kept = self.keep_stored(spec, protocol, auth_type, url, public)
                if kept is not None:
                    secrets[spec.name] = kept

        if self.errors or name is None or protocol is None or url is None or auth_type is None:
            raise CredentialValidationError(self.errors)  # the four are set when no error is
        return ValidatedCredential(
            name=name,
            protocol=protocol,
            url=url,
            auth_type=auth_type,
            authorization=public,
            secrets=Secrets(secrets),
        )

    # -- single fields -------------------------------------------------------------------

    def text(
        self,
        raw: object,
        field: str,
        max_length: int,
        *,
        required: bool,
        strip: bool = True,
        in_bytes: bool = False,
        multiline: bool = False,
    ) -> str | None:
        """A string field: ``None`` when absent (after an error if it is required)."""
        if raw is None or (isinstance(raw, str) and (raw.strip() if strip else raw) == ""):
            if required:
                self.error(field, "is required")
            return None
        if not isinstance(raw, str):
            self.error(field, "must be a string")
            return None
        value = raw.strip() if strip else raw
        if (len(value.encode()) if in_bytes else len(value)) > max_length:
            unit = "bytes" if in_bytes else "characters"
            self.error(field, f"is too long (at most {max_length} {unit})")
            return None
        if strip and not multiline and any(unicodedata.category(c) == "Cc" for c in value):
            self.error(field, "must not contain control characters or line breaks")
            return None
        return value

    def choice(self, raw: object, field: str, enum: type[_E], allowed: tuple[_E, ...]) -> _E | None:
        """One of ``allowed``, matched without regard to case."""
        names = ", ".join(member.value for member in allowed)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            self.error(field, f"is required; allowed values: {names}")
            return None
        if not isinstance(raw, str):
            self.error(field, f"must be one of: {names}")
            return None
        try:
            member: _E | None = enum(raw.strip().upper())
        except ValueError:
            member = None
        if member is None or member not in allowed:
            shown = f"'{raw.strip()}' " if _IDENTIFIER.match(raw.strip()) else ""
            self.error(field, f"{shown}is not allowed; allowed values: {names}")
            return None
        return member

    def url(self, raw: object, protocol: Protocol | None) -> str | None:
        value = self.text(raw, "url", URL_MAX_LENGTH, required=True)
        if value is None or protocol is None:
            return None
        check: Callable[[str], str] = (
            check_https_instance_url if protocol is Protocol.HTTPS else check_sftp_url
        )
        return self.reachable(self.run_check(check, value, "url"), "url")

    def reachable(self, url: str | None, field: str) -> str | None:
        """``url`` (already checked and normalised), unless its host is an address that the
        destination policy refuses."""
        if url is None:
            return None
        problem = self.destinations.literal_refusal(urlsplit(url).hostname or "")
        if problem is not None:
            self.error(field, "host " + problem)
            return None
        return url

    def run_check(self, check: Callable[[str], str], value: str, field: str) -> str | None:
        try:
            return check(value)
        except (UrlError, HostKeyError) as exc:
            self.error(field, str(exc))
            return None

    def unknown_auth_fields(
        self, auth: Mapping[Any, Any], auth_type: AuthType, specs: tuple[FieldSpec, ...]
    ) -> None:
        names = {spec.name for spec in specs}
        for key in auth:
            if key == "type" or key in names:
                continue
            field = "authorization." + _field_name(key)
            if key in OBTAINED_SECRET_FIELDS[auth_type]:
                self.error(field, "is obtained by credgate at run time and cannot be set here")
            else:
                allowed = ", ".join(["type", *(spec.name for spec in specs)])
                self.error(field, f"unknown field for type {auth_type.value}; allowed: {allowed}")

    def auth_field(self, spec: FieldSpec, raw: object) -> str | None:
        field = "authorization." + spec.name
        if spec.kind is FieldKind.PASSWORD:
            return self.text(
                raw, field, spec.max_length, required=spec.required, strip=False, in_bytes=True
            )
        value = self.text(
            raw,
            field,
            spec.max_length,
            required=spec.required,
            in_bytes=spec.secret,
            multiline=spec.kind is FieldKind.HOST_KEY,  # ssh-keyscan output has several lines
        )
        if value is None:
            return spec.default
        kind = spec.kind
        if kind is FieldKind.HTTP_USERNAME and ":" in value:
            self.error(field, "must not contain ':' (HTTP Basic authentication cannot send it)")
            return None
        if kind is FieldKind.AUTH_SCHEME and not _TCHARS.match(value):
            self.error(
                field,
                "must be a single word such as Bearer or Token, without spaces or separators",
            )
            return None
        if kind is FieldKind.SCOPE:
            tokens = value.split()
            if not all(_SCOPE_TOKEN.match(token) for token in tokens):
                self.error(
                    field,
                    'must be scope values separated by spaces, without " or \\ '
                    "(RFC 6749 section 3.3)",
                )
                return None
            return " ".join(tokens)
        if kind is FieldKind.HTTPS_ENDPOINT:
            checked = self.run_check(check_https_endpoint, value, field)
            if spec.name == "authorization_url":
                return checked  # the administrator's browser goes there, not credgate
            return self.reachable(checked, field)
        if kind is FieldKind.HOST_KEY:
            return self.run_check(lambda text: parse_host_key(text).openssh, value, field)
        return value

    def keep_stored(
        self,
        spec: FieldSpec,
        protocol: Protocol,
        auth_type: AuthType,
        url: str | None,
        public: Mapping[str, str],
    ) -> str | None:
        """The stored value a masked secret stands for, or ``None`` after an error."""
        field = "authorization." + spec.name
        stored = self.stored
        if stored is None:
            self.error(field, "is the mask shown for a stored secret; enter the real value")
            return None
        if (stored.protocol, stored.auth_type) != (protocol, auth_type):
            what = "protocol" if stored.protocol is not protocol else "authorization type"
            self.error(
                field,
                f"the {what} changed, so the stored secret is not kept; enter the real value",
            )
            return None
        if spec.name not in stored.secrets:
            self.error(field, "no value is stored for this field; enter the real value")
            return None
        moved: list[str] = []
        for path in SECRET_BINDINGS[(protocol, auth_type)]:
            name = path.removeprefix("authorization.")
            before, after = (
                (stored.url, url)
                if path == "url"
                else (stored.authorization.get(name), public.get(name))
            )
            if after is None:
                return None  # that field is itself invalid and already reported
            if before != after:
                moved.append("the URL" if path == "url" else "the " + name.replace("_", " "))
        if moved:
            changed = " and ".join(moved)
            self.error(
                field,
                f"{changed} changed, so the stored secret is not sent to the new destination; "
                "enter the real value",
            )
            return None
        return stored.secrets[spec.name]


def _is_mask(value: str) -> bool:
    """The mask, or any run of the bullets it is made of (a form may shorten or repeat it)."""
    stripped = value.strip()
    return stripped == MASK or (bool(stripped) and set(stripped) <= {"\u2022", "\u25cf"})


def _field_name(key: object) -> str:
    """A submitted key as it may appear in a message (never a long or odd string)."""
    if isinstance(key, str) and _IDENTIFIER.match(key):
        return key
    return "<unrecognised field>"
