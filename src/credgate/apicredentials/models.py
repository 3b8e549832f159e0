from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from credgate.core.db import Base, UTCDateTime, utcnow


class ApiCredential(Base):
    __tablename__ = "api_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    permissions: Mapped[list[str]] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # ``60/minute``: this credential's limit on every API family; None: the families' own.
    rate_limit: Mapped[str | None] = mapped_column(String(100), nullable=True, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    secrets: Mapped[list[ApiCredentialSecret]] = relationship(
        back_populates="credential", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"ApiCredential(client_id={self.client_id!r}, name={self.name!r})"


class ApiCredentialSecret(Base):
    """One secret of a credential: HMAC-SHA256(pepper, secret), never the secret itself.

    A credential has one secret, or two while a regeneration's overlap window runs; the old one
    carries ``expires_at``.
    """

    __tablename__ = "api_credential_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credential_id: Mapped[int] = mapped_column(
        ForeignKey("api_credentials.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    credential: Mapped[ApiCredential] = relationship(back_populates="secrets")

    def __repr__(self) -> str:
        return f"ApiCredentialSecret(id={self.id!r}, expires_at={self.expires_at!r})"
