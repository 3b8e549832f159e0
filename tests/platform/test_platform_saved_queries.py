"""Saved NQL queries as outbound uses them (``platform.interfaces.SavedQueries``): listed with
their parameters, checked and run in the database."""

from __future__ import annotations

import pytest

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.platform.interfaces import ParameterError, SavedQueries
from credgate.platform.models import InventoryObject

ACTOR = Actor("tests", "pytest")


def test_saved_queries_listed_checked_and_run(container: Container) -> None:
    container.definitions.create(
        "query",
        {
            "id": "#by_os",
            "object": "devices",
            "filters": [{"field": "os", "op": "eq", "value": "$os"}],
            "columns": ["name", "ram"],
            "sort": [{"field": "name"}],
        },
        actor=ACTOR,
    )
    with container.db.session() as session:
        for n in range(4):
            fields = {"os": "Linux" if n % 2 else "BSD", "ram": 4 * n}
            session.add(
                InventoryObject(object="device", uid=f"d{n}", name=f"pc-{n}", fields=fields)
            )
    queries: SavedQueries = container.saved_queries
    assert queries.catalog() == [("#by_os", ["os"])]
    assert queries.parameters("#by_os") == ["os"]
    assert queries.parameters("#gone") is None
    headers, rows = queries.run("#by_os", {"os": "Linux"}, max_rows=10)
    assert headers == ["name", "ram"]
    assert rows == [["pc-1", 4], ["pc-3", 12]]
    assert queries.run("#by_os", {"os": "Linux"}, max_rows=1)[1] == [["pc-1", 4]]
    with pytest.raises(ParameterError):
        queries.run("#by_os", {}, max_rows=10)
    with pytest.raises(LookupError, match="#gone"):
        queries.run("#gone", {}, max_rows=10)
