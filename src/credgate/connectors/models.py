"""Connector records: a webhook or data exporter and the credential it sends with.

Deleting a credential keeps its connectors (the reference becomes empty, ``ON DELETE SET NULL``);
they then report that their credential is missing instead of failing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow

__all__ = ["Connector"]


class Connector(Base):
    __tablename__ = "connectors"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    credential_id: Mapped[str | None] = mapped_column(
        ForeignKey("connector_credentials.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"Connector(id={self.id!r}, name={self.name!r}, kind={self.kind!r})"
