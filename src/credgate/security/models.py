from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow


class SigningKey(Base):
    """An ES256 token-signing key; the private half is kept encrypted by the vault.

    ``generation`` is unique, so two nodes rotating at the same moment cannot both add a key.
    A retired key stays published until ``publish_until``: the expiry of the last token it
    signed.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, unique=True)
    alg: Mapped[str] = mapped_column(String(16), default="ES256")
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    publish_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, generation={self.generation!r})"


class AuthFailure(Base):
    """Failed client authentications per key (``client:<id>`` or ``addr:<ip>``) in a window."""

    __tablename__ = "auth_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FamiliarNetwork(Base):
    """A network (see :func:`credgate.security.throttle.network_of`) from which an account has
    signed in, and when it last did: failures elsewhere never lock the account out here."""

    __tablename__ = "familiar_networks"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
