"""The engines registry answered by the classic Engines API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow

__all__ = ["ENGINE_STATUSES", "Engine"]

ENGINE_STATUSES = ("CONNECTED", "DISCONNECTED", "CONNECTING")


class Engine(Base):
    """One engine, as ``GET /api/configuration/v1/engines`` lists it."""

    __tablename__ = "engines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    database_uid: Mapped[str] = mapped_column(String(100), default="")
    machine_id: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="CONNECTED")
    address: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int] = mapped_column(Integer, default=999)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    version: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Engine(id={self.id!r}, name={self.name!r})"
