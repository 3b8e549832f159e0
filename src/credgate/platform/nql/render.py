"""Renderers of an NQL result: the v1 and v2 JSON bodies and CSV (RFC 4180).

CSV and spreadsheet formulas: a cell that a spreadsheet would read as a formula (text starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with a single quote, as
OWASP's "CSV Injection" guidance recommends. Numbers are never touched: numeric row values are
written as numbers, and text that is just a number (``-5``, ``+1.5e3``) is left as it is, since
a spreadsheet evaluates nothing in it. The guard can be switched off for machine consumers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Final, Protocol

from credgate.platform.nql.engine import Result

__all__ = [
    "CSV_MEDIA_TYPE",
    "Table",
    "csv_cell",
    "csv_chunks",
    "json_cell",
    "render_csv",
    "render_v1",
    "render_v2",
    "write_csv",
]

CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _iso(value: datetime, *, utc: bool = True) -> str:
    """ISO 8601 text: in UTC with ``Z``; or, when not ``utc``, in the server's regional (local)
    zone with its numeric offset, which the NQL API answers unless ``x-utc-times: true``."""
    if not utc and value.tzinfo is not None:
        return value.astimezone().isoformat()
    if value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def json_cell(value: object, *, utc: bool = True) -> object:
    """A row value as JSON: date-times as ISO 8601 text, anything unknown as text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return _iso(value, utc=utc)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [json_cell(v, utc=utc) for v in value]
    if isinstance(value, dict):
        return {str(k): json_cell(v, utc=utc) for k, v in value.items()}
    return str(value)


def render_v1(result: Result, executed_at: datetime, *, utc: bool = True) -> dict[str, object]:
    """200 body of ``POST /api/v1/nql/execute``.

    Date-times are in UTC, or in the server's regional zone when not ``utc`` (``x-utc-times``);
    ``executed_at`` is reported as ``{year, month, day, hour, minute, second}`` in that zone.
    """
    if not utc:
        executed_at = executed_at.astimezone()
    return {
        "queryId": result.query_id,
        "executedQuery": result.executed_query,
        "rows": len(result.rows),
        "executionDateTime": {
            "year": executed_at.year,
            "month": executed_at.month,
            "day": executed_at.day,
            "hour": executed_at.hour,
            "minute": executed_at.minute,
            "second": executed_at.second,
        },
        "headers": list(result.headers),
        "data": [[json_cell(v, utc=utc) for v in row] for row in result.rows],
    }


def render_v2(result: Result, executed_at: datetime, *, utc: bool = True) -> dict[str, object]:
    """200 body of ``POST /api/v2/nql/execute``: one object per row, keyed by column; date-times
    as :func:`render_v1` gives them."""
    return {
        "queryId": result.query_id,
        "executedQuery": result.executed_query,
        "rows": len(result.rows),
        "executionDateTime": _iso(executed_at.replace(microsecond=0), utc=utc),
        "data": [
            {h: json_cell(v, utc=utc) for h, v in zip(result.headers, row, strict=True)}
            for row in result.rows
        ],
    }


def csv_cell(value: object, *, guard_formulas: bool = True) -> str:
    """A row value as CSV text (``null`` is empty, booleans are ``true``/``false``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    if guard_formulas and text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _TextSink(Protocol):
    def write(self, s: str, /) -> object: ...


class Table(Protocol):
    """Headers and rows: a :class:`Result`, or rows still being read from the database."""

    @property
    def headers(self) -> tuple[str, ...]: ...

    @property
    def rows(self) -> Iterable[Sequence[object]]: ...


def write_csv(result: Table, sink: _TextSink, *, guard_formulas: bool = True) -> None:
    """Write the header row and every row to ``sink`` as RFC 4180 CSV (CRLF line breaks)."""
    writer = csv.writer(sink, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(result.headers)
    for row in result.rows:
        writer.writerow([csv_cell(v, guard_formulas=guard_formulas) for v in row])


def csv_chunks(result: Table, *, guard_formulas: bool = True, rows: int = 1000) -> Iterator[str]:
    """The CSV text of ``result`` in pieces of ``rows`` rows, for a streamed answer."""
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(result.headers)
    for count, row in enumerate(result.rows, 1):
        writer.writerow([csv_cell(v, guard_formulas=guard_formulas) for v in row])
        if count % rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def render_csv(result: Result, *, guard_formulas: bool = True) -> str:
    """The ``text/csv`` answer of ``/api/v1/nql/execute`` as one string."""
    buffer = StringIO()
    write_csv(result, buffer, guard_formulas=guard_formulas)
    return buffer.getvalue()
