from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credgate.db import Base, UTCDateTime, utcnow


class MetaEntry(Base):
    """Small facts about the installation (for example the checks that the keys still match)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Change(Base):
    """An append-only log that nodes poll to drop cached state another node changed.

    ``kind`` is one of ``client`` (key: client id), ``token`` (key: jti, revoked) or
    ``signing_key`` (key: kid).
    """

    __tablename__ = "change_log"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuthFailure(Base):
    """Failed client authentications per key (``client:<id>`` or ``addr:<ip>``) in a window."""

    __tablename__ = "auth_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FamiliarNetwork(Base):
    """A network (see :func:`credgate.oauth.throttle.network_of`) from which an account has
    signed in, and when it last did: failures elsewhere never lock the account out here."""

    __tablename__ = "familiar_networks"

    account: Mapped[str] = mapped_column(String(200), primary_key=True)
    network: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_success: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
