"""Enrichment API: whole-request 400s, per-enrichment errors, and the 200/207/400 decision."""

from typing import Any

import pytest

from credgate.platform.schemas import RequestError, enrichment

DEVICE = "0b7c1c9e-2f5a-4d0e-9a51-1d2f3c4b5a69"


def item(
    name: str = "device/device/name", value: str = "LAPTOP-1", **fields: Any
) -> dict[str, Any]:
    return {
        "identification": [{"name": name, "value": value}],
        "fields": [
            {"name": k, "value": v} for k, v in (fields or {"device/device/#team": "it"}).items()
        ],
    }


def request(*items: object) -> dict[str, Any]:
    return {"domain": "itsm", "enrichments": list(items)}


def whole_request_error(data: object) -> str:
    with pytest.raises(RequestError) as info:
        enrichment.parse_fields(data)
    assert info.value.status == 400
    body = info.value.body
    assert body["status"] == "error"
    errors: Any = body["errors"]
    (entry,) = errors
    assert entry["identification"] == []
    (error,) = entry["errors"]
    assert error["code"] == "INVALID_REQUEST"
    return str(error["message"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"enrichments": [item()]}, "domain: is required"),
        ({"domain": 1, "enrichments": [item()]}, "domain: must be a string"),
        ({"domain": " ", "enrichments": [item()]}, "domain: must not be empty"),
        ({"domain": "d"}, "enrichments: is required"),
        ({"domain": "d", "enrichments": {}}, "enrichments: must be an array"),
        ({"domain": "d", "enrichments": []}, "enrichments: must not be empty"),
        ({"domain": "d", "enrichments": [item()] * 10_001}, "enrichments: at most 10000 items"),
        (b"{", "body: is not valid JSON (line 1, column 2)"),
    ],
)
def test_whole_request_problems(data: object, message: str) -> None:
    assert whole_request_error(data) == message


def test_limit_inside_is_accepted() -> None:
    parsed = enrichment.parse_fields(request(*[item()] * 10_000))
    assert len(parsed.enrichments) == 10_000
    assert enrichment.decide(parsed) == (200, {"status": "success"})


def test_valid_request_is_typed() -> None:
    parsed = enrichment.parse_fields(
        request(item("device/device/uid", DEVICE, **{"device/device/configuration_tag": ""}))
    )
    (one,) = parsed.enrichments
    assert parsed.domain == "itsm"
    assert one.identification == enrichment.Identification("device/device/uid", DEVICE)
    assert one.identification.object == "device"
    assert one.fields[0].clears


@pytest.mark.parametrize(
    "name",
    [
        "device/device/configuration_tag",
        "device/device/virtualization/desktop_pool",
        "user/user/ad/department",
        "device/device/#my_field",
        "binary/binary/#owner",
        "application/application/#criticality",
    ],
)
def test_writable_field_names(name: str) -> None:
    assert enrichment.field_name_is_valid(name)


@pytest.mark.parametrize(
    "name",
    [
        "device/device/name",
        "device/device/configuration_tag/x",
        "device/device/virtualization/",
        "device/device/virtualization/a/b",
        "user/user/ad/",
        "device/user/#x",
        "device/device/#",
        "device/device/x",
        "",
    ],
)
def test_unwritable_field_names(name: str) -> None:
    assert not enrichment.field_name_is_valid(name)


@pytest.mark.parametrize("name", enrichment.IDENTIFICATION_NAMES)
def test_every_documented_identification(name: str) -> None:
    value = {"uid": DEVICE, "sid": "S-1-5-21", "name": "LAPTOP", "upn": "a@b.c"}[
        name.rsplit("/", 1)[1]
    ]
    obj = name.split("/", 1)[0]
    parsed = enrichment.parse_fields(request(item(name, value, **{f"{obj}/{obj}/#x": "1"})))
    assert not parsed.errors


@pytest.mark.parametrize(
    ("bad", "code", "message"),
    [
        (
            {"identification": [], "fields": []},
            "INVALID_IDENTIFICATION",
            "exactly one identification is required, got 0",
        ),
        (
            {
                "identification": [{"name": "device/device/name", "value": "a"}] * 2,
                "fields": [{"name": "device/device/#x", "value": "1"}],
            },
            "INVALID_IDENTIFICATION",
            "exactly one identification is required, got 2",
        ),
        (
            item("device/device/serial"),
            "INVALID_IDENTIFICATION",
            "identification[0].name: must be one of",
        ),
        (item("device/device/name", ""), "INVALID_IDENTIFICATION", "must be a non-empty string"),
        (
            item("device/device/uid", "x", **{"device/device/#a": "1"}),
            "INVALID_IDENTIFICATION",
            "must be a UUID",
        ),
        (
            item("user/user/sid", "S-1-5\n", **{"user/user/#a": "1"}),
            "INVALID_IDENTIFICATION",
            "user/user/sid must match",
        ),
        (
            item("user/user/sid", "S-1", **{"user/user/#a": "1"}),
            "INVALID_IDENTIFICATION",
            "user/user/sid must match",
        ),
        (item(**{"device/device/bogus": "1"}), "INVALID_FIELD_NAME", "fields[0].name"),
        (
            item(**{"user/user/ad/department": "it"}),
            "FIELD_OBJECT_MISMATCH",
            "not a field of the identified device",
        ),
        (
            {"identification": [{"name": "device/device/name", "value": "a"}]},
            "INVALID_FIELD",
            "fields: is required",
        ),
        (
            {"identification": [{"name": "device/device/name", "value": "a"}], "fields": []},
            "INVALID_FIELD",
            "fields: must not be empty",
        ),
        (
            {
                "identification": [{"name": "device/device/name", "value": "a"}],
                "fields": [{"name": "device/device/#x", "value": None}],
            },
            "INVALID_FIELD_VALUE",
            "fields[0].value",
        ),
        (
            {
                "identification": [{"name": "device/device/name", "value": "a"}],
                "fields": [{"name": "device/device/#x", "value": "1"}] * 2,
            },
            "DUPLICATE_FIELD",
            "is given twice",
        ),
        ("not an object", "INVALID_ENRICHMENT", "enrichments[1]: must be an object"),
    ],
)
def test_per_enrichment_errors_make_a_207(bad: object, code: str, message: str) -> None:
    parsed = enrichment.parse_fields(request(item(), bad))
    assert len(parsed.enrichments) == 1
    (error,) = parsed.errors
    assert error.index == 1
    assert error.errors[0].code == code
    assert message in error.errors[0].message
    assert error.errors[0].message.startswith("enrichments[1]")
    status, body = enrichment.decide(parsed)
    assert status == 207
    assert body["status"] == "partial_success"
    errors: Any = body["errors"]
    (entry,) = errors
    assert set(entry) == {"identification", "errors"}
    assert set(entry["errors"][0]) == {"message", "code"}


def test_errors_echo_the_identification() -> None:
    bad = item(**{"device/device/bogus": "1"})
    parsed = enrichment.parse_fields(request(bad))
    status, body = enrichment.decide(parsed)
    assert status == 400
    assert body["status"] == "error"
    assert body["errors"][0]["identification"] == [  # type: ignore[index]
        {"name": "device/device/name", "value": "LAPTOP-1"}
    ]


def test_all_invalid_is_400_some_is_207_none_is_200() -> None:
    good, bad = item(), item("bogus/name")
    assert enrichment.decide(enrichment.parse_fields(request(good, good)))[0] == 200
    assert enrichment.decide(enrichment.parse_fields(request(good, bad)))[0] == 207
    assert enrichment.decide(enrichment.parse_fields(request(bad, bad)))[0] == 400


def test_every_problem_of_an_item_is_reported() -> None:
    bad = {
        "identification": [{"name": "device/device/name", "value": "a"}],
        "fields": [{"name": "nope", "value": "1"}, {"name": "device/device/#x", "value": []}],
    }
    parsed = enrichment.parse_fields(request(bad))
    assert [e.code for e in parsed.errors[0].errors] == [
        "INVALID_FIELD_NAME",
        "INVALID_FIELD_VALUE",
    ]


def test_field_values_may_be_numbers_and_booleans() -> None:
    values: dict[str, Any] = {"device/device/#n": 3, "device/device/#b": True}
    parsed = enrichment.parse_fields(request(item(**values)))
    assert [f.value for f in parsed.enrichments[0].fields] == [3, True]
    assert not parsed.enrichments[0].fields[0].clears


def test_forbidden_body() -> None:
    assert enrichment.forbidden_body("no") == {"message": "no"}


def test_non_finite_numbers_are_refused() -> None:
    raw = (
        b'{"domain": "d", "enrichments": [{"identification": [{"name": "device/device/name",'
        b' "value": "a"}], "fields": [{"name": "device/device/#x", "value": NaN}]}]}'
    )
    parsed = enrichment.parse_fields(raw)
    assert parsed.errors[0].errors[0].code == "INVALID_FIELD_VALUE"
