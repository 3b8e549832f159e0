"""The vault: AES-256-GCM encryption of stored secrets under versioned master keys.

A ciphertext reads ``v1.<key version>.<base64url(nonce || ciphertext || tag)>``. The associated
data binds it to its key version and to a *context* (for example ``connector_credential:42:password``),
so a blob copied into another record or field fails to decrypt instead of being served.

Master keys come from ``CREDGATE_MASTER_KEY`` (``VERSION:BASE64`` pairs, comma-separated) or from
the key file that ``credgate init`` writes. The highest version encrypts; every version listed
decrypts, which is what lets ``credgate vault rotate-key`` re-encrypt record by record.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["MasterKeyError", "Vault", "VaultError", "parse_master_keys"]

_FORMAT = "v1"
_NONCE_BYTES = 12


class VaultError(Exception):
    """A ciphertext could not be decrypted (wrong key, wrong context, or damaged)."""


class MasterKeyError(VaultError):
    """The master keys are missing, malformed, or do not match what the database was written with."""


def parse_master_keys(text: str) -> dict[int, bytes]:
    """Parse ``VERSION:BASE64[,VERSION:BASE64...]``; raise :class:`MasterKeyError` naming the bad part."""
    keys: dict[int, bytes] = {}
    for position, part in enumerate(p.strip() for p in text.replace("\n", ",").split(",")):
        if not part:
            continue
        version_text, sep, encoded = part.partition(":")
        if not sep or not version_text.isdigit() or int(version_text) < 1:
            raise MasterKeyError(
                f"master key entry {position + 1} must read VERSION:BASE64 with VERSION >= 1"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MasterKeyError(f"master key version {version_text} is not valid base64") from exc
        if len(key) != 32:
            raise MasterKeyError(
                f"master key version {version_text} must be 32 bytes (AES-256), got {len(key)}"
            )
        keys[int(version_text)] = key
    if not keys:
        raise MasterKeyError("no master key given")
    return keys


def format_master_keys(keys: Mapping[int, bytes]) -> str:
    return ",".join(
        f"{v}:{base64.b64encode(k).decode()}" for v, k in sorted(keys.items(), reverse=True)
    )


def new_master_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class Vault:
    """Encrypts with the newest key version, decrypts with any known version."""

    __slots__ = ("_ciphers", "current_version")

    def __init__(self, keys: Mapping[int, bytes]) -> None:
        if not keys:
            raise MasterKeyError("no master key given")
        self._ciphers = {version: AESGCM(key) for version, key in keys.items()}
        self.current_version = max(keys)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._ciphers))

    @staticmethod
    def _aad(version: int, context: str) -> bytes:
        return f"credgate|{_FORMAT}|{version}|{context}".encode()

    def encrypt(self, plaintext: str | bytes, *, context: str) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(_NONCE_BYTES)
        version = self.current_version
        sealed = self._ciphers[version].encrypt(nonce, data, self._aad(version, context))
        return f"{_FORMAT}.{version}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    @staticmethod
    def key_version(ciphertext: str) -> int:
        fmt, _, rest = ciphertext.partition(".")
        version, _, _ = rest.partition(".")
        if fmt != _FORMAT or not version.isdigit():
            raise VaultError("not a credgate vault ciphertext")
        return int(version)

    def decrypt(self, ciphertext: str, *, context: str) -> bytes:
        version = self.key_version(ciphertext)
        cipher = self._ciphers.get(version)
        if cipher is None:
            raise MasterKeyError(
                f"ciphertext needs master key version {version}, which is not loaded"
            )
        try:
            blob = base64.urlsafe_b64decode(ciphertext.split(".", 2)[2])
            return cipher.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], self._aad(version, context)
            )
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise VaultError(
                f"cannot decrypt the value for {context}: wrong key or tampered data"
            ) from exc

    def decrypt_text(self, ciphertext: str, *, context: str) -> str:
        return self.decrypt(ciphertext, context=context).decode()

    def reencrypt(self, ciphertext: str, *, context: str) -> str:
        """The same plaintext under the current key version (unchanged if already current)."""
        if self.key_version(ciphertext) == self.current_version:
            return ciphertext
        return self.encrypt(self.decrypt(ciphertext, context=context), context=context)

    def __repr__(self) -> str:
        return f"Vault(versions={self.versions!r}, keys=[secure])"


def read_key_file(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def write_secret_file(path: Path, content: str) -> None:
    """Create ``path`` readable by its owner only; refuse to overwrite an existing key."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content + "\n")
