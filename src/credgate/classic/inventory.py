"""Where NXQL reads its rows from: an :class:`InventorySource`.

A source maps an inventory object name (``devices``, ``users``, ``binaries``, ``packages``, the
names of :data:`credgate.platform.nql.engine.OBJECTS`) to an iterable of rows, each a mapping of
field name to value. credgate ships :class:`MemoryInventory` (empty unless filled); a source
backed by the inventory tables only has to implement :meth:`InventorySource.rows`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from credgate.platform.nql.engine import ObjectName

__all__ = ["InventorySource", "MemoryInventory"]

Row = Mapping[str, object]


class InventorySource(Protocol):
    def rows(self, object_name: ObjectName) -> Iterable[Row]:
        """Every row of ``object_name``; the engine filters, sorts and limits them."""
        ...


class MemoryInventory:
    """Rows held in memory, per object name. Empty by default."""

    def __init__(self, data: Mapping[str, Iterable[Row]] | None = None) -> None:
        self._data: dict[str, list[Row]] = {k: list(v) for k, v in (data or {}).items()}

    def rows(self, object_name: ObjectName) -> Iterable[Row]:
        return list(self._data.get(object_name, ()))

    def replace(self, object_name: ObjectName, rows: Iterable[Row]) -> None:
        self._data[object_name] = list(rows)
