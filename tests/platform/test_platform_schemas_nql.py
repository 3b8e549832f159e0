"""NQL API requests: queryId pattern, parameters, compression, Accept, error bodies."""

import pytest

from credgate.platform.nql.engine import ParameterError
from credgate.platform.schemas import RequestError, nql


def ok(query_id: str) -> dict[str, object]:
    return {"queryId": query_id, "parameters": {"os": "windows"}}


@pytest.mark.parametrize(
    ("query_id", "valid"),
    [
        ("#ab", True),  # 2 characters: the minimum
        ("#" + "a" * 255, True),  # 255: the maximum
        ("#a", False),  # 1: just below
        ("#" + "a" * 256, False),  # 256: just above
        ("#my_query_01", True),
        ("#My_query", False),
        ("my_query", False),
        ("#my-query", False),
        ("#my query", False),
        ("#abc\n", False),
        ("", False),
    ],
)
def test_query_id_pattern(query_id: str, valid: bool) -> None:
    if valid:
        assert nql.parse_execute(ok(query_id)).query_id == query_id
    else:
        with pytest.raises(RequestError) as info:
            nql.parse_execute(ok(query_id))
        assert info.value.status == 404
        assert info.value.body["source"] == "queryId"
        assert str(info.value.body["message"]).startswith("queryId: must match")


def test_execute_from_bytes_with_parameters() -> None:
    request = nql.parse_execute(b'{"queryId": "#q1", "parameters": {"a": "1", "b": ""}}')
    assert request.parameters == {"a": "1", "b": ""}


def test_parameters_are_optional_and_default_empty() -> None:
    assert nql.parse_execute({"queryId": "#q1"}).parameters == {}


def test_parameters_must_be_strings() -> None:
    with pytest.raises(RequestError) as info:
        nql.parse_execute({"queryId": "#q1", "parameters": {"n": 5}})
    assert info.value.body == {
        "message": "parameters.n: must be a string",
        "code": 404,
        "source": "parameters.n",
    }


def test_missing_query_id_body() -> None:
    with pytest.raises(RequestError) as info:
        nql.parse_execute({})
    assert info.value.body == {
        "message": "queryId: is required",
        "code": 404,
        "source": "queryId",
    }


@pytest.mark.parametrize("compression", ["ZSTD", "GZIP", "NONE"])
def test_export_compressions(compression: str) -> None:
    request = nql.parse_export({"queryId": "#q1", "compression": compression})
    assert request.compression == compression


def test_export_compression_defaults_to_none() -> None:
    assert nql.parse_export({"queryId": "#q1"}).compression == "NONE"


@pytest.mark.parametrize("compression", ["zstd", "BZIP2", "", 1])
def test_export_rejects_other_compressions(compression: object) -> None:
    with pytest.raises(RequestError) as info:
        nql.parse_export({"queryId": "#q1", "compression": compression})
    assert info.value.body["source"] == "compression"


def test_export_query_string_encodings() -> None:
    request = nql.parse_export_query(
        [
            ("queryId", "#q1"),
            ("compression", "GZIP"),
            ("os", "windows"),
            ("parameters[site]", "lausanne"),
            ("parameters", '{"team": "it"}'),
        ]
    )
    assert request.query_id == "#q1"
    assert request.compression == "GZIP"
    assert request.parameters == {"os": "windows", "site": "lausanne", "team": "it"}


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ({"compression": "GZIP"}, "queryId"),
        ({"queryId": "#q1", "compression": "RAR"}, "compression"),
        ({"queryId": "#q1", "parameters": "[1]"}, "parameters"),
        ({"queryId": "#q1", "parameters": "{bad"}, "parameters"),
        ({"queryId": "#q1", "parameters": '{"n": 1}'}, "parameters.n"),
        # Nested deeper than the JSON decoder recurses: refused like any other bad value.
        ({"queryId": "#q1", "parameters": "[" * 10_000 + "]" * 10_000}, "parameters"),
        ({"queryId": "#q1", "parameters": '{"a":' * 10_000 + "1" + "}" * 10_000}, "parameters"),
    ],
)
def test_export_query_errors(query: dict[str, str], source: str) -> None:
    with pytest.raises(RequestError) as info:
        nql.parse_export_query(query)
    assert info.value.status == 404
    assert info.value.body["source"] == source


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "json"),
        ("", "json"),
        ("*/*", "json"),
        ("application/json", "json"),
        ("text/csv", "csv"),
        ("text/csv;q=0.5, application/json", "json"),
        ("text/csv, application/json;q=0.1", "csv"),
        ("text/html, text/csv", "csv"),
        ("application/json; charset=utf-8", "json"),
    ],
)
def test_accept_negotiation(accept: str | None, chosen: str) -> None:
    assert nql.negotiate_format(accept) == chosen


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/csv;q=0"])
def test_unacceptable_accept_is_406(accept: str) -> None:
    with pytest.raises(RequestError) as info:
        nql.negotiate_format(accept)
    assert info.value.status == 406
    assert set(info.value.body) == {"message", "code", "source"}
    assert info.value.body["code"] == 406


@pytest.mark.parametrize(
    ("value", "utc"),
    [(None, False), ("true", True), ("TRUE", True), ("false", False), ("1", False)],
)
def test_utc_times_header(value: str | None, utc: bool) -> None:
    assert nql.utc_times_requested(value) is utc


def test_builders() -> None:
    assert nql.export_response("e-1") == {"exportId": "e-1"}
    missing = nql.not_found("#nope")
    assert missing.status == 404
    assert missing.body["code"] == 404
    bad = nql.parameter_error(ParameterError("os", "is required by the query"))
    assert bad.status == 404
    assert bad.body == {
        "message": "parameters.os: is required by the query",
        "code": 404,
        "source": "parameters.os",
    }
