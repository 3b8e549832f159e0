"""Classic user accounts and the profiles that decide what they may see."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from credgate.core.db import Base, UTCDateTime, utcnow

__all__ = ["DATA_PRIVACY_LEVELS", "Profile", "User"]

DATA_PRIVACY_LEVELS = ("none", "partial", "full")
"""``none`` is full access to the data; ``partial`` and ``full`` hide personal data."""


class Profile(Base):
    """A profile: its data-privacy level and whether it has Finder access."""

    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    data_privacy: Mapped[str] = mapped_column(String(10))
    finder_access: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Profile(id={self.id!r}, name={self.name!r}, data_privacy={self.data_privacy!r})"


class User(Base):
    """A classic user account; only the argon2id hash of its password is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id"), index=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    profile: Mapped[Profile] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, username={self.username!r})"
