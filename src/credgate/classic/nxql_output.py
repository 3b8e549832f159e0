"""The four NXQL output formats: csv, json, xml and html.

- ``csv``: RFC 4180 with a header row (the NQL CSV writer, formula cells guarded).
- ``json``: an array of objects, one per row, keyed by the selected field names.
- ``xml``: ``<nxql table="device"><header><field>name</field>...</header>
  <row><value field="name">...</value>...</row>...</nxql>``; a null value is an empty element
  with ``null="true"``. Built with :mod:`xml.etree.ElementTree`, which escapes every value.
- ``html``: a complete HTML page holding one ``<table>``; every value goes through
  :func:`html.escape`.

``hr`` (human readable) writes date-times as ``YYYY-MM-DD HH:MM:SS`` (UTC) and booleans as
``yes``/``no``; without it values keep their machine form (ISO 8601, ``true``/``false``).
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Final, Literal

from credgate.platform.interfaces import Result, json_cell, render_csv

__all__ = ["FORMATS", "MEDIA_TYPES", "OutputFormat", "cells", "render"]

OutputFormat = Literal["csv", "json", "xml", "html"]
FORMATS: Final[tuple[OutputFormat, ...]] = ("csv", "json", "xml", "html")
MEDIA_TYPES: Final[dict[OutputFormat, str]] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xml": "application/xml; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def _human(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(result: Result, hr: bool) -> list[list[object]]:
    if not hr:
        return result.rows
    return [[_human(v) for v in row] for row in result.rows]


def _text(value: object) -> str | None:
    if value is None:
        return None
    cell = json_cell(value)
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, list | dict):
        return json.dumps(cell, ensure_ascii=False)
    return str(cell)


def cells(result: Result, hr: bool = False) -> list[list[str | None]]:
    """Each value as the text the xml and html formats write; ``None`` for a null."""
    return [[_text(v) for v in row] for row in _rows(result, hr)]


def render(result: Result, fmt: OutputFormat, *, table: str, hr: bool = False) -> str:
    """``result`` in the NXQL output format ``fmt``."""
    rows = _rows(result, hr)
    if fmt == "csv":
        return render_csv(Result(result.query_id, result.executed_query, result.headers, rows))
    if fmt == "json":
        items = [
            {h: json_cell(v) for h, v in zip(result.headers, row, strict=True)} for row in rows
        ]
        return json.dumps(items, ensure_ascii=False)
    if fmt == "xml":
        root = ET.Element("nxql", {"table": table})
        header = ET.SubElement(root, "header")
        for name in result.headers:
            ET.SubElement(header, "field").text = name
        for row in rows:
            element = ET.SubElement(root, "row")
            for name, value in zip(result.headers, row, strict=True):
                cell = ET.SubElement(element, "value", {"field": name})
                text = _text(value)
                if text is None:
                    cell.set("null", "true")
                else:
                    cell.text = text
        return ET.tostring(root, encoding="unicode", xml_declaration=True)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in result.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(v) or '')}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>NXQL results</title></head>'
        f"<body><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>"
    )
