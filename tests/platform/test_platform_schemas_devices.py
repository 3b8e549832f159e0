"""Data management: device deletions, the documented 400 codes and the 202 body."""

from typing import Any

import pytest

from credgate.platform.schemas import RequestError, devices

UID = "0b7c1c9e-2f5a-4d0e-9a51-1d2f3c4b5a69"


def many(n: int) -> dict[str, Any]:
    return {"devices": [{"uid": UID, "name": f"pc-{i}"} for i in range(n)]}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"", "EMPTY_REQUEST", "body: is empty"),
        ({}, "EMPTY_REQUEST", "devices: is required"),
        ({"devices": []}, "EMPTY_REQUEST", "devices: must not be empty"),
        (many(101), "BATCH_SIZE_EXCEEDED", "devices: at most 100 items"),
        ({"devices": "x"}, "INVALID_REQUEST", "devices: must be an array"),
        (
            {"devices": [{"uid": 1, "name": "a"}]},
            "INVALID_REQUEST",
            "devices[0].uid: must be a string",
        ),
        ({"devices": [{"uid": UID}]}, "INVALID_REQUEST", "devices[0].name: is required"),
        (b"{", "INVALID_REQUEST", "body: is not valid JSON (line 1, column 2)"),
    ],
)
def test_request_errors(body: object, code: str, message: str) -> None:
    with pytest.raises(RequestError) as info:
        devices.parse_deletions(body)
    assert info.value.status == 400
    assert info.value.body == {"code": code, "message": message}


@pytest.mark.parametrize("n", [1, 100])
def test_limit_inside(n: int) -> None:
    assert len(devices.parse_deletions(many(n)).devices) == n


@pytest.mark.parametrize(
    ("uid", "name", "status"),
    [
        (UID, "pc", "SCHEDULED"),
        ("nope", "pc", "INVALID"),
        (UID, " ", "INVALID"),
        ("", "", "INVALID"),
    ],
)
def test_initial_status(uid: str, name: str, status: str) -> None:
    device = devices.parse_deletions({"devices": [{"uid": uid, "name": name}]}).devices[0]
    assert devices.initial_status(device) == status


def test_accepted_body() -> None:
    outcomes = [
        devices.DeletionOutcome(UID, "pc-1", "SCHEDULED"),
        devices.DeletionOutcome("x", "pc-2", "INVALID"),
        devices.DeletionOutcome(UID, "pc-3", "FAILED"),
    ]
    assert devices.deletion_response(outcomes) == {
        "scheduledCount": 1,
        "status": "ACCEPTED",
        "devices": [
            {"uid": UID, "name": "pc-1", "status": "SCHEDULED"},
            {"uid": "x", "name": "pc-2", "status": "INVALID"},
            {"uid": UID, "name": "pc-3", "status": "FAILED"},
        ],
    }


def test_other_documented_codes() -> None:
    assert devices.error_body("EMPTY_TENANT", "m") == {"code": "EMPTY_TENANT", "message": "m"}
    assert devices.error_body("FEATURE_NOT_ENABLED", "m")["code"] == "FEATURE_NOT_ENABLED"
