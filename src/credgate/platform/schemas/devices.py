"""Data management API: ``POST /api/v1/data-management/device/deletions`` (202).

The request is refused as a whole (400, ``{code, message}``) only when it is empty
(``EMPTY_REQUEST``), too large (``BATCH_SIZE_EXCEEDED``) or not shaped like the documented body
(``INVALID_REQUEST``). A device whose ``uid`` or ``name`` is unusable is not a reason to refuse
the others: it is answered with status ``INVALID`` in the 202 body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from pydantic import Field

from credgate.core import permissions
from credgate.platform.schemas._common import (
    Problem,
    RequestError,
    WireModel,
    describe,
    is_uuid,
    parse_model,
)

__all__ = [
    "ERROR_CODES",
    "MAX_DEVICES",
    "PERMISSION",
    "DeletionOutcome",
    "DeletionRequest",
    "DeviceStatus",
    "DeviceToDelete",
    "ErrorCode",
    "deletion_response",
    "documented_code",
    "error_body",
    "initial_status",
    "parse_deletions",
]

PERMISSION: Final = permissions.DATA_MANAGEMENT.id
MAX_DEVICES: Final = 100

DeviceStatus = Literal["SCHEDULED", "INVALID", "FAILED"]
ErrorCode = Literal[
    "EMPTY_REQUEST",
    "INVALID_REQUEST",
    "BATCH_SIZE_EXCEEDED",
    "EMPTY_TENANT",
    "FEATURE_NOT_ENABLED",
    "INTERNAL_ERROR",
]
ERROR_CODES: Final[tuple[ErrorCode, ...]] = get_args(ErrorCode)


class DeviceToDelete(WireModel):
    """One ``{uid, name}`` entry. Both must be strings; their content is judged per device."""

    uid: str
    name: str


class DeletionRequest(WireModel):
    """Body: ``{devices: [{uid, name}]}``, 1 to 100 devices."""

    devices: list[DeviceToDelete] = Field(min_length=1, max_length=MAX_DEVICES)


def error_body(code: ErrorCode, message: str) -> dict[str, object]:
    """The documented error body; 400 codes and the 403 ``FEATURE_NOT_ENABLED``."""
    return {"code": code, "message": message}


def documented_code(code: str, status: int) -> ErrorCode:
    """The documented code closest to ``code``: the document enumerates the codes it may send,
    and a permission the credential lacks is the feature not being enabled for it."""
    if status == 403:
        return "FEATURE_NOT_ENABLED"
    for known in ERROR_CODES:
        if known == code:
            return known
    return "INTERNAL_ERROR" if status >= 500 else "INVALID_REQUEST"


def _code(problems: Sequence[Problem]) -> ErrorCode:
    for problem in problems:
        if problem.field == "devices" and problem.kind == "too_long":
            return "BATCH_SIZE_EXCEEDED"
    for problem in problems:
        if problem.field == "devices" and problem.kind in ("missing", "too_short"):
            return "EMPTY_REQUEST"
        if problem.field == "body" and problem.message == "is empty":
            return "EMPTY_REQUEST"
    return "INVALID_REQUEST"


def _fail(problems: Sequence[Problem]) -> RequestError:
    return RequestError(400, error_body(_code(problems), describe(problems)), problems)


def parse_deletions(body: object) -> DeletionRequest:
    """Parse the body of a device-deletion request."""
    return parse_model(DeletionRequest, body, _fail)


def initial_status(device: DeviceToDelete) -> DeviceStatus:
    """``SCHEDULED`` for a device that can be deleted, ``INVALID`` otherwise.

    A device is usable when its ``uid`` is a UUID and its ``name`` is not blank.
    ``FAILED`` is left to the store, when scheduling a usable device does not succeed.
    """
    return "SCHEDULED" if is_uuid(device.uid) and device.name.strip() else "INVALID"


@dataclass(frozen=True, slots=True)
class DeletionOutcome:
    """What became of one device of the request."""

    uid: str
    name: str
    status: DeviceStatus


def deletion_response(outcomes: Sequence[DeletionOutcome]) -> dict[str, object]:
    """202 body: ``{scheduledCount, status: "ACCEPTED", devices: [{uid, name, status}]}``."""
    return {
        "scheduledCount": sum(1 for o in outcomes if o.status == "SCHEDULED"),
        "status": "ACCEPTED",
        "devices": [{"uid": o.uid, "name": o.name, "status": o.status} for o in outcomes],
    }
