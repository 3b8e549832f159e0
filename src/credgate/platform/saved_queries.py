"""The saved NQL queries as other features use them (:class:`~credgate.platform.interfaces.
SavedQueries`): outbound exporters list, check and run them without knowing how they are stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from credgate.platform.definitions import to_query

if TYPE_CHECKING:
    from credgate.platform.definitions import DefinitionService
    from credgate.platform.services import PlatformService

__all__ = ["StoredQueries"]


@dataclass(frozen=True, slots=True, eq=False)
class StoredQueries:
    definitions: DefinitionService
    platform: PlatformService

    def catalog(self) -> list[tuple[str, list[str]]]:
        return [
            (q.key, list(q.data.get("parameters") or ())) for q in self.definitions.list("query")
        ]

    def parameters(self, query_id: str) -> list[str] | None:
        found = self.definitions.find("query", query_id)
        return None if found is None else list(found.data.get("parameters") or ())

    def run(
        self, query_id: str, parameters: Mapping[str, str], *, max_rows: int
    ) -> tuple[list[str], list[list[object]]]:
        found = self.definitions.find("query", query_id)
        if found is None:
            raise LookupError(f"the saved NQL query {query_id!r} no longer exists")
        result = self.platform.run_query(to_query(found), parameters, max_rows=max_rows)
        return list(result.headers), result.rows
