"""Renderers: v1 and v2 JSON bodies, CSV per RFC 4180 with the formula guard."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from credgate.platform.nql.engine import Result
from credgate.platform.nql.render import (
    CSV_MEDIA_TYPE,
    csv_cell,
    json_cell,
    render_csv,
    render_v1,
    render_v2,
)

WHEN = datetime(2024, 3, 9, 14, 5, 7, 999, tzinfo=UTC)
RESULT = Result(
    query_id="#devices",
    executed_query="devices | list name, ram, seen",
    headers=("name", "ram", "seen"),
    rows=[
        ["alpha", 8, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)],
        ["bravo", None, date(2024, 1, 2)],
    ],
)


def test_v1_shape() -> None:
    body = render_v1(RESULT, WHEN)
    assert body == {
        "queryId": "#devices",
        "executedQuery": "devices | list name, ram, seen",
        "rows": 2,
        "executionDateTime": {
            "year": 2024, "month": 3, "day": 9, "hour": 14, "minute": 5, "second": 7,
        },
        "headers": ["name", "ram", "seen"],
        "data": [["alpha", 8, "2024-01-02T03:04:05Z"], ["bravo", None, "2024-01-02"]],
    }  # fmt: skip
    json.dumps(body)


def test_v1_reports_the_given_zone() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert render_v1(RESULT, local)["executionDateTime"]["hour"] == 16  # type: ignore[index]


def test_v2_shape() -> None:
    body = render_v2(RESULT, WHEN)
    assert body == {
        "queryId": "#devices",
        "executedQuery": "devices | list name, ram, seen",
        "rows": 2,
        "executionDateTime": "2024-03-09T14:05:07Z",
        "data": [
            {"name": "alpha", "ram": 8, "seen": "2024-01-02T03:04:05Z"},
            {"name": "bravo", "ram": None, "seen": "2024-01-02"},
        ],
    }
    assert datetime.fromisoformat(str(body["executionDateTime"])) == WHEN.replace(microsecond=0)


def test_v2_keeps_offsets() -> None:
    local = datetime(2024, 3, 9, 16, 5, 7, tzinfo=timezone(timedelta(hours=2)))
    assert render_v2(RESULT, local)["executionDateTime"] == "2024-03-09T16:05:07+02:00"


def test_json_cells() -> None:
    assert json_cell(Decimal("1.5")) == 1.5
    assert json_cell((1, {"a": date(2024, 1, 1)})) == [1, {"a": "2024-01-01"}]
    assert str(json_cell(object)).startswith("<class")


def test_csv_is_rfc4180() -> None:
    result = Result("#q", "", ("a", "b"), [['say "hi"', "x,y"], ["line\nbreak", None], [True, 1.5]])
    text = render_csv(result)
    assert text == 'a,b\r\n"say ""hi""","x,y"\r\n"line\nbreak",\r\ntrue,1.5\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["a", "b"],
        ['say "hi"', "x,y"],
        ["line\nbreak", ""],
        ["true", "1.5"],
    ]
    assert CSV_MEDIA_TYPE.startswith("text/csv")


@pytest.mark.parametrize(
    ("value", "guarded"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),
        ("+1.5e3", "+1.5e3"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (-5, "-5"),
    ],
)
def test_csv_formula_guard(value: object, guarded: str) -> None:
    assert csv_cell(value) == guarded
    assert csv_cell(value, guard_formulas=False) == str(value)


def test_csv_guard_can_be_switched_off() -> None:
    result = Result("#q", "", ("a",), [["=x"]])
    assert render_csv(result) == "a\r\n'=x\r\n"
    assert render_csv(result, guard_formulas=False) == "a\r\n=x\r\n"


def test_csv_header_only_when_no_rows() -> None:
    assert render_csv(Result("#q", "", ("a", "b"), [])) == "a,b\r\n"
