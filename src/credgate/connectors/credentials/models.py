"""Storage of connector credentials: public fields in one row, each secret in its own sealed row.

A secret row holds the vault's AES-256-GCM ciphertext of one field, bound by its associated data
to the credential id and the field name (:func:`secret_context`), so a blob copied into another
row or record fails to decrypt instead of being served.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from credgate.db import Base, UTCDateTime, utcnow

__all__ = ["ConnectorCredential", "ConnectorCredentialSecret", "secret_context"]


def secret_context(credential_id: str, field: str) -> str:
    """The vault context of one secret field of one credential."""
    return f"connector_credential:{credential_id}:{field}"


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
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    credential: Mapped[ConnectorCredential] = relationship(back_populates="secrets")

    def __repr__(self) -> str:
        return (
            f"ConnectorCredentialSecret(credential_id={self.credential_id!r}, field={self.field!r})"
        )
