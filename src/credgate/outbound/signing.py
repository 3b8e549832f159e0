"""Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme").

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the signature is
``v1,`` + base64(HMAC-SHA256(key, content)), where the secret is ``whsec_`` + base64(key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

__all__ = ["Signer", "generate_secret", "parse_secret", "sign", "signature_headers"]

PREFIX = "whsec_"


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def parse_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (24 to 64 bytes). ValueError names the field."""
    raw = secret[len(PREFIX) :] if secret.startswith(PREFIX) else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("signing_secret: must be whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("signing_secret: the key must be 24 to 64 bytes")
    return key


class Signer:
    """Signs with one secret, its key parsed and set up once for every message it signs."""

    __slots__ = ("_mac",)

    def __init__(self, secret: str) -> None:
        self._mac = hmac.new(parse_secret(secret), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Signer([secure])"

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        mac = self._mac.copy()
        mac.update(f"{msg_id}.{timestamp}.".encode())
        mac.update(body)
        return "v1," + base64.b64encode(mac.digest()).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    return Signer(secret).sign(msg_id, timestamp, body)


def signature_headers(
    secret: str | Signer | None, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        signer = secret if isinstance(secret, Signer) else Signer(secret)
        headers["webhook-signature"] = signer.sign(msg_id, timestamp, body)
    return headers
