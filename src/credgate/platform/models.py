"""Tables of the protected platform APIs: definitions, requests and the inventory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow

__all__ = ["InventoryObject", "PlatformDefinition", "PlatformRequest"]


class PlatformDefinition(Base):
    """A workflow, remote action, campaign, saved NQL query or enrichment field.

    ``kind`` names which; ``key`` is its API identifier (a workflow's id, a query's ``#name``,
    a field's ``<object>/<object>/#name``); ``data`` holds the kind's documented fields, checked
    by :mod:`credgate.platform.definitions` before they are stored.
    """

    __tablename__ = "platform_definitions"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_platform_definitions_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(300))
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    api_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlatformRequest(Base):
    """One request received by a platform API, kept with its state.

    ``kind``: workflow_execution, remote_action, campaign, handoff, device_deletion, enrichment,
    nql_export. ``payload`` is what was received (validated), ``result`` what was answered.
    """

    __tablename__ = "platform_requests"
    __table_args__ = (Index("ix_platform_requests_kind_created_at", "kind", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InventoryObject(Base):
    """A device, user, binary or package, with its enriched fields.

    The identification columns are the ones the Enrichment API names objects by; ``fields``
    maps NQL field names (``configuration_tag``, ``virtualization.type``, ``#custom``) to values.
    """

    __tablename__ = "platform_inventory"
    __table_args__ = (
        UniqueConstraint("object", "uid", name="uq_platform_inventory_object_uid"),
        Index("ix_platform_inventory_object_name", "object", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object: Mapped[str] = mapped_column(String(20))
    uid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sid: Mapped[str | None] = mapped_column(String(200), nullable=True)
    upn: Mapped[str | None] = mapped_column(String(300), nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
