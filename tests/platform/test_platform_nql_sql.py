"""NQL compiled to SQL gives the in-memory engine's answer, operator by operator and type by type,
on SQLite and PostgreSQL, and reads only the rows it returns."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import text
from test_platform_nql_engine import query

from credgate.core.db import Database
from credgate.migrations import migrate
from credgate.platform.models import InventoryObject, InventoryValue
from credgate.platform.nql.engine import ParameterError, QueryExecutionError, Result, execute
from credgate.platform.nql.sql import BATCH, compile_query, open_rows

ROWS: list[dict[str, Any]] = [
    {"name": "alpha", "os": "Windows 11", "ram": 8, "cpu": 2.5, "vip": True,
     "seen": "2024-05-01T12:00:00Z", "tags": ["lab", "eu", 7], "meta": {"a": 1},
     "note": "50% off_now", "platform": "windows"},
    {"name": "bravo", "os": "macOS", "ram": 16, "cpu": 3.0, "vip": False,
     "seen": "2024-06-01T12:00:00Z", "tags": ["us"], "meta": {"a": 2}, "note": "Straße",
     "platform": "mac_os"},
    {"name": "charlie", "os": "Windows 10", "ram": 32, "cpu": 1.5, "vip": True,
     "seen": "2024-07-01T12:00:00Z", "tags": [], "note": "Zebra", "platform": "mobile"},
    {"name": "delta", "os": None, "ram": 4, "mixed": "x", "note": "élan"},
    {"name": "echo", "ram": 16, "mixed": 3, "cpu": 16, "note": "a" * 250 + "b"},
    {"name": "foxtrot", "mixed": 2.5, "vip": False, "note": "a" * 250 + "c", "platform": 5},
]  # fmt: skip


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('nql') / 'credgate.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    database = Database(url)
    migrate(database)
    with database.session() as session:
        session.execute(text("DELETE FROM platform_inventory"))
        for n, row in enumerate(ROWS):
            fields = {k: v for k, v in row.items() if k != "name"}
            session.add(
                InventoryObject(object="device", uid=f"u{n}", name=row["name"], fields=fields)
            )
    yield database
    with database.session() as session:
        session.execute(text("DELETE FROM platform_inventory"))
    database.dispose()


def in_memory(definition: Mapping[str, Any], params: Mapping[str, str], **kw: Any) -> Result:
    rows = [
        {"uid": f"u{n}", **{k: v for k, v in r.items() if v is not None}}
        for n, r in enumerate(ROWS)
    ]
    return execute(definition, params, rows, **kw)


def in_sql(
    db: Database, definition: Mapping[str, Any], params: Mapping[str, str], **kw: Any
) -> Result:
    max_rows = kw.pop("max_rows", None)
    compiled = compile_query(definition, params, max_rows=max_rows, **kw)
    with db.session() as session:
        rows = open_rows(session, compiled, max_rows=max_rows)
        out = list(rows)
        return Result(rows.query_id, rows.executed_query, rows.headers, out, rows.truncated)


def same(db: Database, definition: dict[str, Any], **params: str) -> list[object] | str:
    """The names selected, or the error raised, once checked that SQL and memory agree."""
    try:
        expected = in_memory(definition, params)
    except (ParameterError, QueryExecutionError) as exc:
        error = exc
    else:
        got = in_sql(db, definition, params)
        assert got == expected
        return [r[0] for r in got.rows]
    with pytest.raises(type(error)) as raised:
        in_sql(db, definition, params)
    assert str(raised.value) == str(error)
    return str(error)


FILTERS = [
    # integers, floats (a literal int against floats), booleans
    ({"field": "ram", "op": "eq", "value": 16}, ["bravo", "echo"]),
    ({"field": "ram", "op": "ne", "value": 16}, ["alpha", "charlie", "delta"]),
    ({"field": "ram", "op": "lt", "value": 16}, ["alpha", "delta"]),
    ({"field": "ram", "op": "le", "value": 16}, ["alpha", "bravo", "delta", "echo"]),
    ({"field": "ram", "op": "gt", "value": 16}, ["charlie"]),
    ({"field": "ram", "op": "ge", "value": 16}, ["bravo", "charlie", "echo"]),
    ({"field": "ram", "op": "eq", "value": "16"}, ["bravo", "echo"]),
    ({"field": "cpu", "op": "gt", "value": 2}, ["alpha", "bravo", "echo"]),
    ({"field": "cpu", "op": "le", "value": 2.5}, ["alpha", "charlie"]),
    ({"field": "vip", "op": "eq", "value": True}, ["alpha", "charlie"]),
    ({"field": "vip", "op": "lt", "value": True}, ["bravo", "foxtrot"]),
    ({"field": "vip", "op": "ne", "value": "1"}, ["bravo", "foxtrot"]),
    # text: exact, ordered by code point, longer than the indexed prefix
    ({"field": "os", "op": "eq", "value": "windows 11"}, []),
    ({"field": "os", "op": "ne", "value": "macOS"}, ["alpha", "charlie"]),
    ({"field": "os", "op": "lt", "value": "Windows 10~"}, ["charlie"]),  # "m" > "W"
    ({"field": "os", "op": "ge", "value": "Windows 11"}, ["alpha", "bravo"]),
    ({"field": "note", "op": "gt", "value": "Zebra"}, ["delta", "echo", "foxtrot"]),
    (
        {"field": "note", "op": "le", "value": "a" * 250 + "b"},
        ["alpha", "bravo", "charlie", "echo"],
    ),
    ({"field": "note", "op": "eq", "value": "a" * 250 + "c"}, ["foxtrot"]),
    ({"field": "note", "op": "gt", "value": "a" * 250 + "b"}, ["delta", "foxtrot"]),
    ({"field": "seen", "op": "gt", "value": "2024-05-15"}, ["bravo", "charlie"]),
    # contains: case-folded text, list membership, numbers as text, LIKE's own characters
    ({"field": "os", "op": "contains", "value": "WINDOWS"}, ["alpha", "charlie"]),
    ({"field": "note", "op": "contains", "value": "STRASSE"}, ["bravo"]),
    ({"field": "note", "op": "contains", "value": "0% off_"}, ["alpha"]),
    ({"field": "note", "op": "contains", "value": "%"}, ["alpha"]),
    ({"field": "note", "op": "contains", "value": "_"}, ["alpha"]),
    ({"field": "tags", "op": "contains", "value": "eu"}, ["alpha"]),  # found before the 7
    ({"field": "tags", "op": "contains", "value": "us"}, "filters[0]: 'us' is not an integer"),
    ({"field": "tags", "op": "contains", "value": "7"}, ["alpha"]),
    ({"field": "tags", "op": "contains", "value": 7}, ["alpha"]),
    ({"field": "ram", "op": "contains", "value": "1"}, ["bravo", "echo"]),
    ({"field": "vip", "op": "contains", "value": "tru"}, ["alpha", "charlie"]),
    ({"field": "meta", "op": "contains", "value": "'a': 2"}, ["bravo"]),
    # in, mixed types in one field, lists and objects against scalars
    ({"field": "name", "op": "in", "value": ["bravo", "delta", "zulu"]}, ["bravo", "delta"]),
    ({"field": "ram", "op": "in", "value": [4, "32"]}, ["charlie", "delta"]),
    ({"field": "mixed", "op": "eq", "value": "x"}, "filters[0]: 'x' is not an integer"),
    ({"field": "mixed", "op": "ge", "value": 2.5}, ["delta", "echo", "foxtrot"]),
    ({"field": "tags", "op": "eq", "value": "eu"}, []),
    ({"field": "tags", "op": "ne", "value": "eu"}, ["alpha", "bravo", "charlie"]),
    ({"field": "meta", "op": "ne", "value": "x"}, ["alpha", "bravo"]),
    ({"field": "meta", "op": "lt", "value": "x"}, []),
    ({"field": "missing", "op": "ne", "value": "x"}, []),
    ({"field": "name", "op": "eq", "value": "$$x"}, []),
]


@pytest.mark.parametrize(("flt", "expected"), FILTERS)
def test_each_operator_and_type(
    db: Database, flt: dict[str, Any], expected: list[str] | str
) -> None:
    assert same(db, query(flt)) == expected


@pytest.mark.parametrize(
    ("flt", "param", "expected"),
    [
        ({"field": "ram", "op": "ge", "value": "$p"}, "16", ["bravo", "charlie", "echo"]),
        ({"field": "cpu", "op": "lt", "value": "$p"}, "2.6", "parameters.p: must be an integer"),
        ({"field": "cpu", "op": "lt", "value": "$p"}, "3", ["alpha", "charlie"]),
        ({"field": "vip", "op": "eq", "value": "$p"}, "TRUE", ["alpha", "charlie"]),
        ({"field": "os", "op": "eq", "value": "$p"}, "macOS", ["bravo"]),
        ({"field": "name", "op": "in", "value": ["$p", "alpha"]}, "bravo", ["alpha", "bravo"]),
        ({"field": "os", "op": "contains", "value": "$p"}, "mac", ["bravo"]),
        ({"field": "mixed", "op": "eq", "value": "$p"}, "x", "parameters.p: must be an integer"),
        ({"field": "mixed", "op": "eq", "value": "$p"}, "3", ["echo"]),
    ],
)
def test_parameters_are_coerced_per_type(
    db: Database, flt: dict[str, Any], param: str, expected: list[str] | str
) -> None:
    assert same(db, query(flt), p=param) == expected


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ({"field": "ram", "op": "eq", "value": "$p"}, "parameters.p: must be an integer"),
        ({"field": "cpu", "op": "gt", "value": "$p"}, "parameters.p: must be a number"),
        ({"field": "vip", "op": "eq", "value": "$p"}, "parameters.p: must be a boolean (true or false)"),
        ({"field": "tags", "op": "contains", "value": "$p"}, "parameters.p: must be an integer"),
    ],
)  # fmt: skip
def test_a_parameter_that_does_not_fit_raises_as_in_memory(
    db: Database, flt: dict[str, Any], message: str
) -> None:
    with pytest.raises(ParameterError) as memory:
        in_memory(query(flt), {"p": "lots"})
    with pytest.raises(ParameterError) as sql:
        in_sql(db, query(flt), {"p": "lots"})
    assert str(sql.value) == str(memory.value) == message


def test_errors_only_when_a_row_reaching_the_filter_holds_the_type(db: Database) -> None:
    ram_in_text = query(
        {"field": "os", "op": "eq", "value": "macOS"}, {"field": "mixed", "op": "eq", "value": "$p"}
    )
    assert same(db, ram_in_text, p="nope") == []  # no macOS row has "mixed"
    literal = query({"field": "ram", "op": "eq", "value": "many"})
    with pytest.raises(QueryExecutionError, match=r"filters\[0\]: 'many' is not an integer"):
        in_sql(db, literal, {})
    # An earlier term of "in" that matches spares the later one, as in memory.
    assert same(db, query({"field": "ram", "op": "in", "value": [8, 16, 32, 4]})) == [
        "alpha", "bravo", "charlie", "delta", "echo"
    ]  # fmt: skip


def test_missing_parameters_are_named_before_any_sql(db: Database) -> None:
    with pytest.raises(
        ParameterError, match=r"parameters.a: is required by the query \(also missing: b\)"
    ):
        compile_query(query({"field": "x", "op": "eq", "value": "$a"}, {"field": "y", "op": "eq", "value": "$b"}), {})  # fmt: skip


@pytest.mark.parametrize(
    "sort",
    [
        [{"field": "ram"}],
        [{"field": "ram", "desc": True}],
        [{"field": "mixed"}],
        [{"field": "mixed", "desc": True}],
        [{"field": "vip"}, {"field": "cpu", "desc": True}],
        [{"field": "note"}],
        [{"field": "tags", "desc": True}, {"field": "name", "desc": True}],
        [{"field": "meta"}, {"field": "os"}],
    ],
)
def test_sort_matches_the_engine(db: Database, sort: list[dict[str, Any]]) -> None:
    same(db, query(sort=sort, columns=["name", "ram", "tags", "meta"]))


def test_limit_max_rows_columns_and_executed_text(db: Database) -> None:
    definition = query(
        {"field": "ram", "op": "ge", "value": "$r"},
        sort=[{"field": "ram", "desc": True}],
        columns=["name", "uid", "tags", "meta", "nothing"],
        limit=3,
    )
    for cap in (None, 2, 3):
        expected = in_memory(definition, {"r": "8"}, max_rows=cap)
        assert in_sql(db, definition, {"r": "8"}, max_rows=cap) == expected
    assert in_sql(db, definition, {"r": "8"}, max_rows=2).truncated


def test_restrict_keeps_absent_null_or_listed(db: Database) -> None:
    allowed = {"platform": frozenset({"windows", "mobile"})}
    got = in_sql(db, query(), {}, restrict=allowed)
    assert [r[0] for r in got.rows] == ["alpha", "charlie", "delta", "echo"]


def test_index_follows_updates_and_deletes(db: Database) -> None:
    with db.session() as session:
        row = InventoryObject(object="device", uid="temp", name="temp", fields={"ram": 64})
        session.add(row)
    assert in_sql(db, query({"field": "ram", "op": "gt", "value": 60}), {}).rows == [["temp"]]
    with db.session() as session:
        found = session.query(InventoryObject).filter_by(uid="temp").one()
        found.fields = {"ram": 1}
    assert in_sql(db, query({"field": "ram", "op": "gt", "value": 60}), {}).rows == []
    with db.session() as session:
        session.execute(InventoryObject.__table__.delete().where(InventoryObject.uid == "temp"))
        left = session.query(InventoryValue).filter(InventoryValue.text == "temp").count()
    assert left == 0


def test_rows_stream_in_batches(db: Database) -> None:
    """The engine never holds the inventory: memory while reading every row stays far below
    what the rows take once held."""
    count = 20 * BATCH
    with db.session() as session:
        session.execute(
            InventoryObject.__table__.insert(),
            [
                {"object": "user", "uid": f"s{n}", "name": f"s{n}", "fields": {"pad": "p" * 400}}
                for n in range(count)
            ],
        )
    compiled = compile_query({"id": "#users", "object": "users", "columns": ["name", "pad"]}, {})
    try:
        with db.session() as session:
            tracemalloc.start()
            seen = sum(1 for _ in open_rows(session, compiled, max_rows=None))
            _, streaming_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        with db.session() as session:
            tracemalloc.start()
            held = list(open_rows(session, compiled, max_rows=None))
            _, holding_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert seen == len(held) == count
        assert holding_peak > 8 * 2**20  # the rows themselves: ~20k x 400 characters
        assert streaming_peak < holding_peak / 4
    finally:
        with db.session() as session:
            session.execute(
                InventoryObject.__table__.delete().where(InventoryObject.object == "user")
            )
