"""The NQL selection engine: definitions, filters, parameters, sort, limit, text rendering."""

from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

import pytest

from credgate.platform.nql.engine import (
    Param,
    ParameterError,
    QueryDefinitionError,
    QueryExecutionError,
    execute,
    validate_query_definition,
)

ROWS: list[dict[str, object]] = [
    {"name": "alpha", "os": "Windows 11", "ram": 8, "cpu": 2.5, "vip": True,
     "seen": datetime(2024, 5, 1, 12, tzinfo=UTC), "born": date(2020, 1, 1), "tags": ["lab", "eu"]},
    {"name": "bravo", "os": "macOS", "ram": 16, "cpu": 3.0, "vip": False,
     "seen": datetime(2024, 6, 1, 12, tzinfo=UTC), "born": date(2021, 1, 1), "tags": ["us"]},
    {"name": "charlie", "os": "Windows 10", "ram": 32, "cpu": 1.5, "vip": True,
     "seen": datetime(2024, 7, 1, 12, tzinfo=UTC), "born": date(2022, 1, 1), "tags": []},
    {"name": "delta", "os": None, "ram": 4},
]  # fmt: skip


def query(*filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "id": "#devices",
        "object": "devices",
        "filters": list(filters),
        "columns": ["name"],
    }
    definition.update(extra)
    return definition


def names(definition: dict[str, Any], **params: str) -> list[object]:
    return [row[0] for row in execute(definition, params, ROWS).rows]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"field": "ram", "op": "eq", "value": 16}, ["bravo"]),
        ({"field": "ram", "op": "ne", "value": 16}, ["alpha", "charlie", "delta"]),
        ({"field": "ram", "op": "lt", "value": 16}, ["alpha", "delta"]),
        ({"field": "ram", "op": "le", "value": 16}, ["alpha", "bravo", "delta"]),
        ({"field": "ram", "op": "gt", "value": 16}, ["charlie"]),
        ({"field": "ram", "op": "ge", "value": 16}, ["bravo", "charlie"]),
        ({"field": "os", "op": "contains", "value": "WINDOWS"}, ["alpha", "charlie"]),
        ({"field": "tags", "op": "contains", "value": "eu"}, ["alpha"]),
        ({"field": "name", "op": "in", "value": ["bravo", "delta", "zulu"]}, ["bravo", "delta"]),
        ({"field": "os", "op": "eq", "value": "windows 11"}, []),  # eq on text is exact
        ({"field": "os", "op": "ne", "value": "macOS"}, ["alpha", "charlie"]),  # null never matches
        ({"field": "missing", "op": "ne", "value": "x"}, []),
        ({"field": "cpu", "op": "gt", "value": 2}, ["alpha", "bravo"]),
        ({"field": "vip", "op": "eq", "value": True}, ["alpha", "charlie"]),
        ({"field": "ram", "op": "eq", "value": "16"}, ["bravo"]),  # literal coerced to the field
        ({"field": "name", "op": "eq", "value": "$$x"}, []),
    ],
)
def test_filters(flt: dict[str, Any], expected: list[str]) -> None:
    assert names(query(flt)) == expected


def test_filters_are_anded() -> None:
    definition = query(
        {"field": "os", "op": "contains", "value": "windows"},
        {"field": "ram", "op": "ge", "value": 16},
    )
    assert names(definition) == ["charlie"]


@pytest.mark.parametrize(
    ("flt", "param", "expected"),
    [
        ({"field": "ram", "op": "ge", "value": "$min"}, "16", ["bravo", "charlie"]),
        ({"field": "cpu", "op": "lt", "value": "$min"}, "2.6", ["alpha", "charlie"]),
        ({"field": "vip", "op": "eq", "value": "$min"}, "false", ["bravo"]),
        ({"field": "vip", "op": "eq", "value": "$min"}, "TRUE", ["alpha", "charlie"]),
        (
            {"field": "seen", "op": "gt", "value": "$min"},
            "2024-05-15T00:00:00Z",
            ["bravo", "charlie"],
        ),
        ({"field": "seen", "op": "lt", "value": "$min"}, "2024-05-15T00:00:00", ["alpha"]),
        ({"field": "born", "op": "ge", "value": "$min"}, "2021-01-01", ["bravo", "charlie"]),
        ({"field": "os", "op": "eq", "value": "$min"}, "macOS", ["bravo"]),
        ({"field": "name", "op": "in", "value": ["$min", "alpha"]}, "bravo", ["alpha", "bravo"]),
        ({"field": "os", "op": "contains", "value": "$min"}, "mac", ["bravo"]),
    ],
)
def test_parameters_are_coerced_to_the_field_type(
    flt: dict[str, Any], param: str, expected: list[str]
) -> None:
    assert names(query(flt), min=param) == expected


@pytest.mark.parametrize(
    ("field", "value", "expected_type"),
    [
        ("ram", "lots", "an integer"),
        ("cpu", "fast", "a number"),
        ("vip", "maybe", "a boolean (true or false)"),
        ("seen", "yesterday", "an ISO 8601 date-time"),
        ("born", "2021-13-01", "an ISO 8601 date"),
    ],
)
def test_parameter_that_does_not_coerce(field: str, value: str, expected_type: str) -> None:
    with pytest.raises(ParameterError) as info:
        names(query({"field": field, "op": "eq", "value": "$p"}), p=value)
    assert info.value.name == "p"
    assert str(info.value) == f"parameters.p: must be {expected_type}"


def test_literal_that_does_not_coerce() -> None:
    with pytest.raises(QueryExecutionError, match=r"filters\[0\]: 'many' is not an integer"):
        names(query({"field": "ram", "op": "eq", "value": "many"}))


def test_missing_parameters_are_named_before_any_row_is_read() -> None:
    def rows() -> Any:
        raise AssertionError("rows were read")
        yield  # pragma: no cover

    definition = query(
        {"field": "ram", "op": "ge", "value": "$min_ram"},
        {"field": "os", "op": "eq", "value": "$os"},
    )
    with pytest.raises(ParameterError) as info:
        execute(definition, {}, rows())
    assert info.value.name == "min_ram"
    assert str(info.value) == "parameters.min_ram: is required by the query (also missing: os)"


def test_extra_parameters_are_ignored() -> None:
    assert names(query(), unused="1") == ["alpha", "bravo", "charlie", "delta"]


def test_sort_multi_key_desc_and_nulls_last() -> None:
    rows = [
        {"name": "a", "g": 2, "v": None},
        {"name": "b", "g": 1, "v": 5},
        {"name": "c", "g": 2, "v": 9},
        {"name": "d", "g": 1, "v": 7},
        {"name": "e", "v": 1},
    ]
    definition = query(sort=[{"field": "g"}, {"field": "v", "desc": True}])
    assert [r[0] for r in execute(definition, {}, rows).rows] == ["d", "b", "c", "a", "e"]
    definition = query(sort=[{"field": "v", "desc": False}])
    assert [r[0] for r in execute(definition, {}, rows).rows] == ["e", "b", "d", "c", "a"]


def test_sort_mixed_types_does_not_crash() -> None:
    rows: list[dict[str, object]] = [
        {"name": "a", "v": "x"},
        {"name": "b", "v": 1},
        {"name": "c", "v": 2.5},
    ]
    definition = query(sort=[{"field": "v"}])
    assert [r[0] for r in execute(definition, {}, rows).rows] == ["b", "c", "a"]


def test_limit_and_max_rows() -> None:
    definition = query(sort=[{"field": "ram", "desc": True}], limit=2)
    result = execute(definition, {}, ROWS)
    assert [r[0] for r in result.rows] == ["charlie", "bravo"]
    assert not result.truncated
    capped = execute(query(), {}, ROWS, max_rows=3)
    assert len(capped.rows) == 3
    assert capped.truncated
    exact = execute(query(), {}, ROWS, max_rows=4)
    assert len(exact.rows) == 4
    assert not exact.truncated


def test_columns_headers_and_missing_values() -> None:
    result = execute(query(columns=["name", "os", "nothing"]), {}, ROWS[3:])
    assert result.headers == ("name", "os", "nothing")
    assert result.rows == [["delta", None, None]]
    assert result.query_id == "#devices"


def test_executed_query_text_substitutes_parameters() -> None:
    definition = query(
        {"field": "os", "op": "eq", "value": "$os"},
        {"field": "ram", "op": "ge", "value": "$ram"},
        {"field": "vip", "op": "eq", "value": True},
        {"field": "name", "op": "in", "value": ["a", "$os"]},
        columns=["name", "ram"],
        sort=[{"field": "ram", "desc": True}],
        limit=10,
    )
    result = execute(definition, {"os": 'Win "11"', "ram": "8"}, [])
    assert result.executed_query == (
        'devices | where os == "Win \\"11\\"" and ram >= 8 and vip == true'
        ' and name in ["a", "Win \\"11\\""] | list name, ram | sort ram desc | limit 10'
    )


def test_validated_definition() -> None:
    definition = validate_query_definition(
        query({"field": "ram", "op": "in", "value": ["$a", 1, "$$b"]}, sort=[{"field": "ram"}])
    )
    assert definition.filters[0].value == (Param("a"), 1, "$b")
    assert definition.parameter_names == {"a"}
    assert definition.sort[0].desc is False
    assert validate_query_definition(definition) is definition


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "no_hash"}, "id: must match"),
        ({"id": "#a"}, "id: must match"),
        ({"object": "printers"}, "object: must be one of"),
        ({"columns": []}, "columns: must not be empty"),
        ({"columns": ["a", "a"]}, "columns: repeated: a"),
        ({"columns": ["bad name"]}, "columns: not field names"),
        ({"limit": 0}, "limit: must be at least 1"),
        ({"limit": 1_000_001}, "limit: must be at most 1000000"),
        ({"filters": [{"field": "a", "op": "like", "value": 1}]}, "filters[0].op: must be one of"),
        ({"filters": [{"field": "a", "op": "eq"}]}, "filters[0].value: is required"),
        (
            {"filters": [{"field": "a", "op": "eq", "value": None}]},
            "filters[0].value: must be a string",
        ),
        (
            {"filters": [{"field": "a", "op": "eq", "value": {"x": 1}}]},
            "filters[0].value: must be a string",
        ),
        (
            {"filters": [{"field": "a", "op": "in", "value": []}]},
            "filters[0].value: must be a string",
        ),
        (
            {"filters": [{"field": "a", "op": "in", "value": "x"}]},
            "filters[0].value: op in needs an array",
        ),
        (
            {"filters": [{"field": "a", "op": "eq", "value": [1]}]},
            "filters[0].value: op eq needs a single",
        ),
        (
            {"filters": [{"field": "a", "op": "eq", "value": "$1x"}]},
            "filters[0].value: '$1x' is not a parameter",
        ),
        ({"filters": [{"field": "a b", "op": "eq", "value": 1}]}, "filters[0].field: must match"),
        ({"sort": [{"field": "a", "desc": "yes"}]}, "sort[0].desc: must be a boolean"),
        ({"colums": ["a"]}, "colums: is not a known field"),
    ],
)
def test_invalid_definitions(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryDefinitionError) as info:
        validate_query_definition(query(**changes))
    assert message in str(info.value)
    assert str(info.value).startswith("invalid query definition: ")


def test_definition_may_be_any_mapping() -> None:
    frozen = MappingProxyType(query())
    assert validate_query_definition(frozen).id == "#devices"


def test_definition_must_be_an_object() -> None:
    with pytest.raises(QueryDefinitionError, match="definition: must be a JSON object"):
        validate_query_definition(["#x"])


def test_rows_are_streamed_when_unsorted() -> None:
    def endless() -> Any:
        n = 0
        while True:
            n += 1
            yield {"name": f"d{n}"}

    result = execute(query(limit=3), {}, endless())
    assert [r[0] for r in result.rows] == ["d1", "d2", "d3"]
