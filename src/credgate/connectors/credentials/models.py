"""Storage of connector credentials: public fields in one row, each secret in its own sealed row.

A secret row holds the vault's AES-256-GCM ciphertext of one field, bound by its associated data
(:func:`secret_context`) to the credential id, the field name and the destination the secret was
entered for (:func:`destination_digest` of the URL, the token and authorization URLs, the SFTP
host key; see ``SECRET_BINDINGS``). A blob copied into another row or record fails to decrypt,
and so does a secret whose credential was pointed elsewhere without it being entered again, even
by a code path that forgot to check.

Rows sealed before destinations were bound have an empty ``destination``; they are sealed again,
bound, by ``credgate init`` (and ``serve``) and by ``credgate vault rotate-key``/``reencrypt``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from credgate.core.db import Base, UTCDateTime, utcnow
from credgate.security.rotation import sealed_column

__all__ = [
    "ConnectorCredential",
    "ConnectorCredentialSecret",
    "destination_digest",
    "secret_context",
]


def destination_digest(destination: Sequence[tuple[str, str]]) -> str:
    """A fixed-length name for a destination (``ValidatedCredential.destination``)."""
    canonical = json.dumps([list(pair) for pair in destination], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def secret_context(credential_id: str, field: str, destination: str = "") -> str:
    """The vault context of one secret field of one credential, sealed for ``destination`` (a
    :func:`destination_digest`; empty for rows sealed before destinations were bound)."""
    base = f"connector_credential:{credential_id}:{field}"
    return f"{base}:to:{destination}" if destination else base


class ConnectorCredential(Base):
    """How credgate reaches and authenticates to a third-party tool (secrets kept apart).

    ``authorization`` holds the public fields of ``auth_type`` (for example ``username`` or
    ``access_token_url``); ``status`` is empty while all is well and otherwise says what went
    wrong at run time (``renewal failing: invalid_client``, ``reconnect needed``).
    """

    __tablename__ = "connector_credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    protocol: Mapped[str] = mapped_column(String(16), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    auth_type: Mapped[str] = mapped_column(String(40))
    authorization: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    last_test_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    last_test_detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(500), default="")

    secrets: Mapped[list[ConnectorCredentialSecret]] = relationship(
        back_populates="credential", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"ConnectorCredential(id={self.id!r}, name={self.name!r})"


class ConnectorCredentialSecret(Base):
    """One secret field of a credential, sealed by the vault; never the plaintext."""

    __tablename__ = "connector_credential_secrets"

    credential_id: Mapped[str] = mapped_column(
        ForeignKey("connector_credentials.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    #: The destination digest the secret is sealed for ("" before destinations were bound).
    destination: Mapped[str] = mapped_column(String(64), default="", server_default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    credential: Mapped[ConnectorCredential] = relationship(back_populates="secrets")

    def __repr__(self) -> str:
        return (
            f"ConnectorCredentialSecret(credential_id={self.credential_id!r}, field={self.field!r})"
        )


SEALED_SECRETS = sealed_column(
    "connector credential secret",
    ConnectorCredentialSecret,
    # the destination a secret is sealed for is part of its context, kept as it is
    ("credential_id", "field", "destination"),
    "ciphertext",
    lambda k: secret_context(str(k["credential_id"]), str(k["field"]), str(k["destination"])),
)
"""How master-key rotation re-encrypts these secrets (:mod:`credgate.security.rotation`)."""
