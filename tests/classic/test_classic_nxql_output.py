"""The four NXQL output formats, and that each escapes what it must."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from credgate.classic.nxql_output import render
from credgate.platform.nql.engine import Result

RESULT = Result(
    "#nxql",
    "devices | list name, seen, ok",
    ("name", "seen", "ok"),
    [
        ['<b>&"x"</b>', datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), True],
        ["=cmd()", None, False],
    ],
)


def test_csv() -> None:
    rows = list(csv.reader(io.StringIO(render(RESULT, "csv", table="device"))))
    assert rows[0] == ["name", "seen", "ok"]
    assert rows[1] == ['<b>&"x"</b>', "2026-01-02T03:04:05Z", "true"]
    assert rows[2] == ["'=cmd()", "", "false"]


def test_json() -> None:
    assert json.loads(render(RESULT, "json", table="device")) == [
        {"name": '<b>&"x"</b>', "seen": "2026-01-02T03:04:05Z", "ok": True},
        {"name": "=cmd()", "seen": None, "ok": False},
    ]


def test_xml_escapes_and_marks_null() -> None:
    text = render(RESULT, "xml", table="device")
    root = ET.fromstring(text)  # noqa: S314 - our own output, parsed to check it
    assert root.tag == "nxql"
    assert root.get("table") == "device"
    assert [f.text for f in root.find("header")] == ["name", "seen", "ok"]  # type: ignore[union-attr]
    first, second = root.findall("row")
    assert [v.text for v in first] == ['<b>&"x"</b>', "2026-01-02T03:04:05Z", "true"]
    assert second[1].get("null") == "true"
    assert second[1].text is None
    assert "<b>" not in text


def test_html_escapes_every_value() -> None:
    text = render(RESULT, "html", table="device")
    assert "<th>name</th>" in text
    assert "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;" in text
    assert "<b>" not in text


def test_human_readable() -> None:
    rows = json.loads(render(RESULT, "json", table="device", hr=True))
    assert rows[0]["seen"] == "2026-01-02 03:04:05"
    assert rows[0]["ok"] == "yes"
    assert rows[1]["ok"] == "no"
