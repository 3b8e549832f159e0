"""The NXQL subset parser and its translation to the NQL selection engine."""

from __future__ import annotations

import pytest

from credgate.classic import nxql
from credgate.classic.nxql import MAX_DEPTH, NxqlSyntaxError, parse_nxql
from credgate.platform.nql.engine import Filter, Param, SortKey, execute

ROWS = [
    {"name": "alpha", "os": "Windows 11", "ram_gb": 16, "platform": "windows"},
    {"name": "beta", "os": "macOS 14", "ram_gb": 8, "platform": "mac_os"},
    {"name": "gamma", "os": "Windows 10", "ram_gb": 4, "platform": "windows"},
]


def test_full_query_translates_to_the_engine() -> None:
    query = parse_nxql(
        '(select (name ram_gb) (from device) (where device (eq os (pattern "*windows*"))'
        " (ge ram_gb (integer 4))) (order_by ram_gb desc) (limit 10))"
    )
    d = query.definition
    assert query.table == "device"
    assert d.object == "devices"
    assert d.columns == ("name", "ram_gb")
    assert d.filters == (Filter("os", "contains", "windows"), Filter("ram_gb", "ge", 4))
    assert d.sort == (SortKey("ram_gb", desc=True),)
    assert d.limit == 10
    result = execute(d, {}, ROWS)
    assert result.rows == [["alpha", 16], ["gamma", 4]]


def test_single_column_and_parameter() -> None:
    query = parse_nxql("(select name (from device) (where device (eq name (string %1))))")
    assert query.definition.filters == (Filter("name", "eq", Param("p1")),)
    assert query.parameter_names == frozenset({"p1"})
    assert execute(query.definition, {"p1": "beta"}, ROWS).rows == [["beta"]]


@pytest.mark.parametrize(
    ("text", "table"),
    [
        ("(select (name) (from user))", "users"),
        ("(select (name) (from binary))", "binaries"),
        ("(select (name) (from package))", "packages"),
        ("(SELECT (name) (FROM Device))", "devices"),
    ],
)
def test_tables(text: str, table: str) -> None:
    assert parse_nxql(text).definition.object == table


def test_literal_types_and_dollar_text() -> None:
    q = parse_nxql(
        "(select (name) (from device) (where device (eq flag (boolean true))"
        ' (lt score (real 2.5)) (eq name (string "$x"))))'
    )
    assert [f.value for f in q.definition.filters] == [True, 2.5, "$x"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "one (select"),
        ("(select (name) (from device)", "not closed"),
        ("(select (name) (from device)))", "unbalanced"),
        ("(select (name) (from server))", "not a table"),
        ("(select (name) (where device))", "(from table)"),
        ("(select (name) (from device) (where user (eq name (string x))))", "join"),
        ("(select (name) (from device) (where device (like name (string x))))", "condition"),
        ("(select (name) (from device) (where device (eq name (blob x))))", "typed value"),
        ("(select (name) (from device) (where device (eq ram (integer lots))))", "integer"),
        ('(select (name) (from device) (where device (eq name (pattern "a*b"))))', "*text*"),
        ("(select (name) (from device) (limit 0))", "limit"),
        ("(select (name) (from device) (limit x))", "limit"),
        ("(select (name) (from device) (order_by name sideways))", "asc or desc"),
        ("(select (name) (from device) (group_by name))", "not supported"),
        ("(select (na-me) (from device))", "field name"),
        ("(select (name) (from device)) (select (name) (from device))", "one (select"),
    ],
)
def test_errors_say_where_and_why(text: str, needle: str) -> None:
    with pytest.raises(NxqlSyntaxError) as info:
        parse_nxql(text)
    assert needle in str(info.value)


def test_too_long_query_is_refused() -> None:
    with pytest.raises(NxqlSyntaxError, match="longer than"):
        parse_nxql("(select (name) (from device))" + " " * 20_001)


# Every place of the grammar where a form can stand, with X for the deep form.
PLACES = (
    "X",
    "(select X (from device))",
    "(select (X) (from device))",
    "(select (name) (from X))",
    "(select (name) (from device) X)",
    "(select (name) (from device) (where X (eq name (string a))))",
    "(select (name) (from device) (where device X))",
    "(select (name) (from device) (where device (eq X (string a))))",
    "(select (name) (from device) (where device (eq name X)))",
    "(select (name) (from device) (where device (eq name (string X))))",
    "(select (name) (from device) (where device (eq name (pattern X))))",
    "(select (name) (from device) (order_by X desc))",
    "(select (name) (from device) (order_by name X))",
    "(select (name) (from device) (limit X))",
)


@pytest.mark.parametrize("depth", [400, 10_000])
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("closed", [True, False])
def test_deep_nesting_is_a_syntax_error_wherever_it_stands(
    monkeypatch: pytest.MonkeyPatch, depth: int, place: str, closed: bool
) -> None:
    """No part of the parser recurses on the input: depth is refused as such, even with the
    length limit (which alone would refuse 10,000 levels) out of the way."""
    monkeypatch.setattr(nxql, "MAX_QUERY", 1_000_000)
    deep = "(" * depth + "name" + (")" * depth if closed else "")
    with pytest.raises(NxqlSyntaxError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_nxql(place.replace("X", deep))


def test_nesting_up_to_the_limit_is_read() -> None:
    # The deepest the grammar goes is 4; the limit leaves room and still reads MAX_DEPTH levels.
    query = "(select (name) (from device) (where device (eq name (string a))))"
    assert parse_nxql(query).definition.filters == (Filter("name", "eq", "a"),)
    at_limit = (
        "(select " + "(" * (MAX_DEPTH - 1) + "name" + ")" * (MAX_DEPTH - 1) + " (from device))"
    )
    with pytest.raises(NxqlSyntaxError, match="is not a field name"):
        parse_nxql(at_limit)
