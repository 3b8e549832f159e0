"""Where NXQL reads its answers from: an :class:`InventorySource`.

A source runs a compiled NXQL query (an NQL definition over ``devices``, ``users``,
``binaries`` or ``packages``, the names of :data:`credgate.platform.interfaces.OBJECTS`).
The container binds the platform's inventory, which runs it in the database; tests use
:class:`MemoryInventory`, which runs the same definition over rows held in memory with the
engine that defines its meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from credgate.platform.interfaces import ObjectName, QueryDefinition, Result, execute

__all__ = ["InventorySource", "MemoryInventory"]

Row = Mapping[str, object]


class InventorySource(Protocol):
    def run_query(
        self,
        query: QueryDefinition,
        parameters: Mapping[str, str],
        *,
        max_rows: int,
        restrict: Mapping[str, frozenset[str]] | None = None,
    ) -> Result:
        """The query's rows, at most ``max_rows``; ``restrict`` keeps only rows whose field is
        absent, null or one of the given values."""
        ...


class MemoryInventory:
    """Rows held in memory, per object name. Empty by default."""

    def __init__(self, data: Mapping[str, Iterable[Row]] | None = None) -> None:
        self._data: dict[str, list[Row]] = {k: list(v) for k, v in (data or {}).items()}

    def rows(self, object_name: ObjectName) -> Iterable[Row]:
        return list(self._data.get(object_name, ()))

    def replace(self, object_name: ObjectName, rows: Iterable[Row]) -> None:
        self._data[object_name] = list(rows)

    def run_query(
        self,
        query: QueryDefinition,
        parameters: Mapping[str, str],
        *,
        max_rows: int,
        restrict: Mapping[str, frozenset[str]] | None = None,
    ) -> Result:
        rows = self.rows(query.object)
        for name, allowed in (restrict or {}).items():
            rows = [r for r in rows if r.get(name) is None or r.get(name) in allowed]
        return execute(query, parameters, rows, max_rows=max_rows)
