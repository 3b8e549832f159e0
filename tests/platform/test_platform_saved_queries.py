"""Saved NQL queries as outbound uses them (``platform.interfaces.SavedQueries``): listed with
their parameters, checked and run in the database."""

from __future__ import annotations

import pytest

from credgate.container import Container
from credgate.platform.interfaces import ParameterError, SavedQueries
from support.platform_data import add_devices, save_query


def test_saved_queries_listed_checked_and_run(container: Container) -> None:
    save_query(container, "#by_os", ["name", "ram"], where=("os", "eq", "$os"), sort="name")
    add_devices(container, 4)
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
