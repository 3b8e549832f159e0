"""Tables of the protected platform APIs: definitions, requests and the inventory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    event,
    insert,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from credgate.core.db import Base, UTCDateTime, utcnow
from credgate.platform.nql.index import KEY_CHARS, entries, object_row

__all__ = [
    "CODE_POINT_TEXT",
    "InventoryObject",
    "InventoryValue",
    "PlatformDefinition",
    "PlatformRequest",
]

# Text compares and sorts by code point, as the in-memory engine does: SQLite's BINARY does on
# UTF-8; PostgreSQL needs the "C" collation, whatever the database's default.
CODE_POINT_TEXT = Text().with_variant(Text(collation="C"), "postgresql")
_CODE_POINT_KEY = String(KEY_CHARS).with_variant(String(KEY_CHARS, collation="C"), "postgresql")


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
    __table_args__ = (
        Index("ix_platform_requests_kind_created_at", "kind", "created_at"),
        # The export worker looks for queued jobs; the daily limit counts a client's exports.
        Index("ix_platform_requests_kind_state", "kind", "state"),
        Index("ix_platform_requests_kind_client_id_created_at", "kind", "client_id", "created_at"),
    )

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


class InventoryValue(Base):
    """One field value of an inventory object, typed so that the database can index it.

    ``fields`` of :class:`InventoryObject` stays the record; these rows are its index, rebuilt
    whenever an object is written (:mod:`credgate.platform.nql.index`). ``position`` is -1 for
    the field's value and the item's index for the items of a list. ``kind`` is ``bool``,
    ``int``, ``float``, ``text``, ``list`` or ``object``; numbers and booleans sit in ``num``,
    text in ``text`` (lists and objects as sorted JSON, for sorting), its first characters in
    ``key``, and ``folded`` holds the case-folded text a ``contains`` filter searches.
    """

    __tablename__ = "platform_inventory_values"
    __table_args__ = (
        Index(
            "ix_platform_inventory_values_num",
            "object",
            "field",
            "kind",
            "num",
            "position",
            "object_id",
        ),
        Index(
            "ix_platform_inventory_values_key",
            "object",
            "field",
            "kind",
            "key",
            "position",
            "object_id",
        ),
    )

    object_id: Mapped[int] = mapped_column(
        ForeignKey("platform_inventory.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(300), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    object: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(6))
    num: Mapped[float | None] = mapped_column(Float, nullable=True)
    key: Mapped[str | None] = mapped_column(_CODE_POINT_KEY, nullable=True)
    text: Mapped[str | None] = mapped_column(CODE_POINT_TEXT, nullable=True)
    folded: Mapped[str | None] = mapped_column(Text, nullable=True)


def reindex(connection: Connection, target: InventoryObject) -> None:
    """Rewrite the index entries of one object, in the transaction that writes it."""
    connection.execute(delete(InventoryValue).where(InventoryValue.object_id == target.id))
    row = object_row(
        target.uid, {"name": target.name, "sid": target.sid, "upn": target.upn}, target.fields
    )
    values = list(entries(target.id, target.object, row))
    if values:
        connection.execute(insert(InventoryValue), values)


@event.listens_for(InventoryObject, "after_insert")
@event.listens_for(InventoryObject, "after_update")
def _reindex(_mapper: Mapper[Any], connection: Connection, target: InventoryObject) -> None:
    reindex(connection, target)
