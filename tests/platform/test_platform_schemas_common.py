"""Parsers of every family: malformed input always becomes the family's documented refusal
(400, or NQL's 404: its document lists no 400) with the family's error body."""

from collections.abc import Callable

import pytest

from credgate.platform.schemas import (
    RequestError,
    campaigns,
    devices,
    enrichment,
    nql,
    remote_actions,
    spark,
    workflows,
)
from credgate.platform.schemas._common import SID_PATTERN, Problem, describe, load_json

PARSERS: list[tuple[str, Callable[[object], object], set[str]]] = [
    ("nql.execute", nql.parse_execute, {"message", "code", "source"}),
    ("nql.export", nql.parse_export, {"message", "code", "source"}),
    ("act.execute", remote_actions.parse_execute, {"code", "message"}),
    ("workflows.v1", workflows.parse_execute_v1, {"code", "details"}),
    ("workflows.v2", workflows.parse_execute_v2, {"code", "details"}),
    ("enrichment", enrichment.parse_fields, {"status", "errors"}),
    ("campaigns", campaigns.parse_trigger, {"code", "message"}),
    ("spark", lambda b: spark.parse_handoff({"User-Principal-Name": "a@b.c"}, b), {"message"}),
    ("devices", devices.parse_deletions, {"code", "message"}),
]

MALFORMED: list[object] = [
    b"",
    b"   ",
    b"{",
    b"\xff\xfe",
    "not json",
    b"null",
    b"[]",
    b"42",
    b'"text"',
    None,
    42,
    [],
    ["a"],
    b"[" * 100_000 + b"]" * 100_000,
    {"devices": None, "users": "x", "queryId": 5, "enrichments": {}, "message": []},
]


@pytest.mark.parametrize(("family", "parse", "keys"), PARSERS, ids=[p[0] for p in PARSERS])
@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_input_gets_the_family_400_body(
    family: str, parse: Callable[[object], object], keys: set[str], body: object
) -> None:
    with pytest.raises(RequestError) as info:
        parse(body)
    assert info.value.status == (nql.REFUSED if family.startswith("nql") else 400)
    assert set(info.value.body) == keys
    assert info.value.problems, family
    assert str(info.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "is empty"),
        (b"{", "is not valid JSON (line 1, column 2)"),
        (b"\xff", "is not UTF-8 text"),
    ],
)
def test_load_json_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        load_json(raw)


def test_load_json_accepts_bytes_text_and_values() -> None:
    assert load_json(b'{"a": 1}') == {"a": 1}
    assert load_json(bytearray(b"[1]")) == [1]
    assert load_json('{"a": 1}') == {"a": 1}
    value = {"already": "decoded"}
    assert load_json(value) is value


def test_describe_caps_the_listing() -> None:
    problems = [Problem(f"f{i}", "bad") for i in range(25)]
    text = describe(problems)
    assert text.startswith("f0: bad; f1: bad")
    assert text.endswith("; and 15 more")
    assert "f10" not in text


@pytest.mark.parametrize(
    ("sid", "ok"),
    [
        ("0", True),
        ("S-1-5", True),
        ("S-1-5-21-3623811015-3361044348-30300820-1013", True),
        ("S" + "-1" * 10, True),
        ("S" + "-1" * 11, False),
        ("S-1", False),
        ("S-1-", False),
        ("s-1-5", False),
        ("S-1-a", False),
        ("00", False),
        ("", False),
        ("S-1-5\n", False),
    ],
)
def test_sid_pattern(sid: str, ok: bool) -> None:
    assert (SID_PATTERN.fullmatch(sid) is not None) is ok
