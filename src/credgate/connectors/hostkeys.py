"""SSH server host keys pinned by an SFTP connector credential.

An administrator pastes the server's public host key, the line that ``ssh-keyscan`` prints::

    $ ssh-keyscan -t ecdsa sftp.example.com
    sftp.example.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAI...

The key is in the OpenSSH public-key format: a key type, the base64 of the SSH wire encoding of
the key (RFC 4253 section 6.6, "Public Key Algorithms": the blob opens with the key type as an
SSH ``string``) and an optional comment. A leading host field, as in ``known_hosts`` and in
``ssh-keyscan`` output, is accepted and dropped.

A fingerprint (``da:47:93:...`` MD5 or ``SHA256:...``) is refused: it identifies a key, but it
cannot be pinned by an SSH client that must check a signature made with that key, and the MD5
form is too weak to rely on anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from typing import Final

import asyncssh
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "ALLOWED_KEY_TYPES",
    "MAX_HOST_KEY_LENGTH",
    "MD5_FINGERPRINT_MESSAGE",
    "MIN_RSA_BITS",
    "HostKey",
    "HostKeyError",
    "parse_host_key",
]

#: Key types an SFTP credential may pin. The documented prefixes are ``ecdsa-sha2`` and
#: ``ssh-rsa``; Ed25519 is what current OpenSSH servers offer first, so it is accepted too.
ALLOWED_KEY_TYPES: Final = (
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-ed25519",
    "ssh-rsa",
)

#: OpenSSH (since 9.1, ``RequiredRSASize``) refuses RSA keys shorter than this.
MIN_RSA_BITS: Final = 1024

#: An upper bound that no real public key line reaches (a 16384-bit RSA key is about 2.8 kB).
MAX_HOST_KEY_LENGTH: Final = 8192

MD5_FINGERPRINT_MESSAGE: Final = (
    "this is an MD5 fingerprint (xx:xx:...), which cannot be pinned; paste the server's public "
    "host key instead, the line that `ssh-keyscan -t ecdsa <host>` prints, for example "
    "'ecdsa-sha2-nistp256 AAAA...'"
)

_SHA256_FINGERPRINT_MESSAGE: Final = (
    "this is a SHA256 fingerprint, which cannot be pinned; paste the server's public host key "
    "instead, the line that `ssh-keyscan -t ecdsa <host>` prints, for example "
    "'ecdsa-sha2-nistp256 AAAA...'"
)

_MD5_FINGERPRINT = re.compile(r"(?i)^(?:md5:)?[0-9a-f]{2}(?::[0-9a-f]{2}){15}$")
_SHA256_FINGERPRINT = re.compile(r"^(?i:sha256):[A-Za-z0-9+/]{43}=?$")
_KEY_TYPE_SHAPE = re.compile(r"^[a-z0-9][a-z0-9.@-]*$")


class HostKeyError(ValueError):
    """A pasted host key is not a usable SSH public host key; the message says why."""


@dataclass(frozen=True)
class HostKey:
    """A parsed, verified SSH public host key.

    ``blob`` is the key in SSH wire format (RFC 4253 section 6.6); the comment and any host
    field of the pasted line are not kept, so two pastes of the same key compare equal.
    """

    key_type: str
    blob: bytes

    @property
    def openssh(self) -> str:
        """The canonical OpenSSH public-key line: ``<type> <base64>``."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"

    def sha256_fingerprint(self) -> str:
        """The fingerprint as ``ssh-keygen -l`` prints it: ``SHA256:`` + unpadded base64."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def matches(self, presented: HostKey | asyncssh.SSHKey | bytes) -> bool:
        """Whether a key presented by a server is this pinned key (same type and key data)."""
        if isinstance(presented, HostKey):
            blob = presented.blob
        elif isinstance(presented, bytes):
            blob = presented
        else:
            blob = presented.public_data
        return hmac.compare_digest(self.blob, blob)

    def to_asyncssh(self) -> asyncssh.SSHKey:
        """This key as an asyncssh public key (for a ``known_hosts`` trust list)."""
        return asyncssh.import_public_key(self.openssh)

    @classmethod
    def from_asyncssh(cls, key: asyncssh.SSHKey) -> HostKey:
        """Wrap a key that asyncssh decoded (for instance the one a server presented)."""
        return cls(key_type=key.get_algorithm(), blob=bytes(key.public_data))

    def __str__(self) -> str:
        return self.openssh


def parse_host_key(text: str) -> HostKey:
    """Parse one OpenSSH public host key line, as ``ssh-keyscan`` or ``known_hosts`` has it.

    Accepted: ``<type> <base64> [comment]`` and ``<host> <type> <base64> [comment]``, with
    blank lines and ``#`` comment lines (``ssh-keyscan`` prints one per key) ignored.
    Raises :class:`HostKeyError` with a message that says what is wrong and what to paste.
    """
    if not isinstance(text, str):
        raise HostKeyError("must be a string")
    if len(text) > MAX_HOST_KEY_LENGTH:
        raise HostKeyError(f"is too long (at most {MAX_HOST_KEY_LENGTH} characters)")
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines:
        raise HostKeyError(
            "is required: paste the server's public host key, the line that "
            "`ssh-keyscan -t ecdsa <host>` prints"
        )
    if len(lines) > 1:
        raise HostKeyError("paste exactly one host key line (found several)")
    line = lines[0]

    if _MD5_FINGERPRINT.match(line):
        raise HostKeyError(MD5_FINGERPRINT_MESSAGE)
    if _SHA256_FINGERPRINT.match(line):
        raise HostKeyError(_SHA256_FINGERPRINT_MESSAGE)

    fields = line.split()
    if fields[0].startswith("@"):
        raise HostKeyError(
            "known_hosts markers such as @cert-authority or @revoked are not supported; "
            "paste the server's own public host key"
        )
    if fields[0] not in ALLOWED_KEY_TYPES and len(fields) >= 3 and fields[1] in ALLOWED_KEY_TYPES:
        fields = fields[1:]  # "<host> <type> <base64>" as ssh-keyscan and known_hosts print it
    if len(fields) < 2:
        raise HostKeyError(
            "must be '<key type> <base64 key>', for example 'ecdsa-sha2-nistp256 AAAA...'"
        )
    key_type, encoded = fields[0], fields[1]
    if key_type not in ALLOWED_KEY_TYPES:
        shown = f"'{key_type}' " if _KEY_TYPE_SHAPE.match(key_type) and len(key_type) <= 64 else ""
        raise HostKeyError(
            f"key type {shown}is not supported; it must be one of {', '.join(ALLOWED_KEY_TYPES)}"
        )

    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HostKeyError("the key data after the key type is not valid base64") from None

    embedded = _embedded_key_type(blob)
    if embedded is None:
        raise HostKeyError("the key data is not an SSH public key (it is truncated or corrupt)")
    if embedded != key_type:
        raise HostKeyError(
            f"the key data is a '{embedded}' key but the line says '{key_type}'"
            if _KEY_TYPE_SHAPE.match(embedded) and len(embedded) <= 64
            else f"the key data does not hold a '{key_type}' key"
        )

    try:
        key = asyncssh.import_public_key(f"{key_type} {encoded}")
    except (asyncssh.KeyImportError, ValueError):
        raise HostKeyError(
            f"the key data is not a valid '{key_type}' public key (it is truncated or corrupt)"
        ) from None
    if key_type == "ssh-rsa":
        bits = _rsa_bits(key)
        if bits < MIN_RSA_BITS:
            raise HostKeyError(
                f"this RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
            )
    return HostKey(key_type=key_type, blob=bytes(key.public_data))


def _embedded_key_type(blob: bytes) -> str | None:
    """The key type an SSH public key blob opens with (an SSH ``string``, RFC 4251 §5)."""
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length == 0 or length > 64 or len(blob) < 4 + length:
        return None
    try:
        return blob[4 : 4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


def _rsa_bits(key: asyncssh.SSHKey) -> int:
    """Modulus size of an RSA public key, read through the ``cryptography`` key object."""
    public = key.pyca_key
    if not isinstance(public, rsa.RSAPublicKey):  # pragma: no cover - asyncssh gave ssh-rsa
        raise HostKeyError("the key data is not a valid 'ssh-rsa' public key")
    return public.key_size
