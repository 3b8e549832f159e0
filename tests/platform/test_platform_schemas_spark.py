"""Spark handoff: required and optional headers, message parts, error body."""

from typing import Any

import pytest

from credgate.platform.schemas import RequestError, spark

UPN = {"User-Principal-Name": "jane@example.com"}
TEXT = {"message": {"parts": [{"type": "TEXT", "text": "my laptop is slow"}]}}


def error(headers: dict[str, str], body: object) -> str:
    with pytest.raises(RequestError) as info:
        spark.parse_handoff(headers, body)
    assert info.value.status == 400
    assert set(info.value.body) == {"message"}
    return str(info.value.body["message"])


def test_minimal_handoff() -> None:
    handoff = spark.parse_handoff(UPN, TEXT)
    assert handoff.user_principal_name == "jane@example.com"
    assert handoff.timezone is None
    assert handoff.body.message.parts[0].text == "my laptop is slow"


def test_headers_are_case_insensitive_and_timezone_is_checked() -> None:
    handoff = spark.parse_handoff(
        {"user-principal-name": "jane@example.com", "TIMEZONE": "Europe/Zurich"}, TEXT
    )
    assert handoff.timezone is not None
    assert handoff.timezone.key == "Europe/Zurich"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "UTC+1"])
def test_unknown_timezone(zone: str) -> None:
    assert error({**UPN, "Timezone": zone}, TEXT).startswith("Timezone:")


@pytest.mark.parametrize("headers", [{}, {"User-Principal-Name": "  "}])
def test_upn_header_is_required(headers: dict[str, str]) -> None:
    assert error(headers, TEXT) == "User-Principal-Name: header is required"


def test_file_part_and_metadata() -> None:
    handoff = spark.parse_handoff(
        UPN,
        {
            "metadata": {"channel": "teams", "n": 1},
            "message": {
                "parts": [{"type": "FILE", "fileContent": "aGVsbG8=", "mimeType": "text/plain"}]
            },
        },
    )
    part = handoff.body.message.parts[0]
    assert (part.file_content, part.mime_type) == ("aGVsbG8=", "text/plain")
    assert handoff.body.metadata == {"channel": "teams", "n": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "message: is required"),
        ({"message": {"parts": []}}, "message.parts: must not be empty"),
        (
            {"message": {"parts": [{"type": "TEXT"}]}},
            "message.parts[0]: a TEXT part needs a non-empty text",
        ),
        (
            {"message": {"parts": [{"type": "IMAGE"}]}},
            "message.parts[0].type: must be one of 'TEXT' or 'FILE'",
        ),
        (
            {"message": {"parts": [{"type": "FILE", "fileContent": "%%%", "mimeType": "a/b"}]}},
            "message.parts[0]: fileContent must be base64",
        ),
        (
            {"message": {"parts": [{"type": "FILE", "fileContent": "aGk="}]}},
            "message.parts[0]: a FILE part needs a mimeType such as text/plain",
        ),
        (
            {"message": {"parts": [{"type": "FILE", "fileContent": "aGk=", "mimeType": "plain"}]}},
            "message.parts[0]: a FILE part needs a mimeType such as text/plain",
        ),
        ({"metadata": [], **TEXT}, "metadata: must be an object"),
    ],
)
def test_body_errors(body: dict[str, Any], message: str) -> None:
    assert error(UPN, body) == message
