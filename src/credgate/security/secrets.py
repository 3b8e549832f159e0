"""Generated secrets: their format, their checksum, and the keyed hash that is stored.

A secret is ``<prefix>_<43 base62 chars: 256 random bits><6 base62 chars: CRC-32 checksum>``.
The prefix lets secret scanners spot a leaked one (see :data:`SECRET_PATTERN`); the checksum
lets them, and credgate, reject a mistyped or made-up value without a database lookup.

Only ``HMAC-SHA256(pepper, secret)`` is stored. The secret has 256 bits of entropy, so a slow
password hash (bcrypt, PBKDF2, argon2) would add nothing against guessing and would cap the token
endpoint at a few requests per second; the pepper, kept outside the database, means a stolen
database alone does not even allow offline checking of candidate secrets.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
import zlib

__all__ = [
    "ADMIN_TOKEN_PREFIX",
    "CLIENT_SECRET_PREFIX",
    "SECRET_PATTERN",
    "SecretHasher",
    "generate_client_id",
    "generate_secret",
    "has_valid_checksum",
]

CLIENT_SECRET_PREFIX = "cgs"
ADMIN_TOKEN_PREFIX = "cgat"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_BASE36 = string.digits + string.ascii_lowercase
_BODY_LEN = 43  # ceil(256 / log2(62))
_CHECK_LEN = 6  # ceil(32 / log2(62))

_SHAPE = re.compile(r"[a-z]{2,8}_[0-9A-Za-z]{49}")

#: What a secret scanner should look for.
SECRET_PATTERN = re.compile(r"\b(?:cgs|cgat)_[0-9A-Za-z]{49}\b")


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


def generate_secret(prefix: str = CLIENT_SECRET_PREFIX) -> str:
    """A new secret: prefix, 256 random bits and a checksum."""
    body = _base62(secrets.randbits(256), _BODY_LEN)
    return f"{prefix}_{body}{_checksum(body)}"


def has_valid_checksum(secret: str, prefix: str = CLIENT_SECRET_PREFIX) -> bool:
    """True when ``secret`` is well formed. The checksum is no secret, so plain compare is fine."""
    head = len(prefix) + 1
    if not _SHAPE.fullmatch(secret) or secret[:head] != f"{prefix}_":
        return False
    return secret[-_CHECK_LEN:] == _checksum(secret[head : head + _BODY_LEN])


def generate_client_id() -> str:
    """A client id: 32 lowercase letters and digits (165 random bits), like the documented ones."""
    return "".join(secrets.choice(_BASE36) for _ in range(32))


class SecretHasher:
    """HMAC-SHA256 keyed by the server-side pepper."""

    __slots__ = ("_keyed",)

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 32:
            raise ValueError("the pepper must be at least 32 bytes")
        # Keyed once: a copy carries the pepper's inner and outer pads, so each hash skips the
        # key schedule (about 40% of hmac.digest on a secret's length; every token request
        # hashes its secret).
        self._keyed = hmac.new(pepper, digestmod="sha256")

    def hash(self, secret: str) -> str:
        keyed = self._keyed.copy()
        keyed.update(secret.encode())
        return keyed.hexdigest()

    def verify(self, secret: str, expected_hash: str) -> bool:
        """Constant-time comparison of the keyed hash of ``secret`` with ``expected_hash``."""
        return hmac.compare_digest(self.hash(secret), expected_hash)

    def __repr__(self) -> str:
        return "SecretHasher(pepper=[secure])"
