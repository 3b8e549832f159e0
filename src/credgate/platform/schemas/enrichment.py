"""Enrichment API: ``POST /api/v1/enrichment/data/fields`` with 200, 207 and 400 semantics.

A request is judged in two layers:

- **The request as a whole** (not JSON, no ``domain``, ``enrichments`` missing, empty or over
  10,000): :func:`parse_fields` raises :class:`RequestError` with a 400 body.
- **Each enrichment** (its identification, its fields): problems are collected per item, and
  :func:`decide` answers 200 when none has one, 207 when some do, 400 when all do.

Every error list item has the documented ``IndividualObjectError`` shape
``{identification, errors: [{message, code}]}``. Whole-request problems use that shape too, with
an empty ``identification``, so that a client reading ``errors[*].errors[*]`` reads them all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from credgate.core import permissions
from credgate.platform.schemas._common import (
    SID_PATTERN,
    Problem,
    RequestError,
    describe,
    is_uuid,
    load_object,
)

__all__ = [
    "IDENTIFICATION_NAMES",
    "MAX_ENRICHMENTS",
    "PERMISSION",
    "Enrichment",
    "EnrichmentError",
    "EnrichmentRequest",
    "ErrorDetail",
    "FieldValue",
    "Identification",
    "decide",
    "error_body",
    "field_name_is_valid",
    "forbidden_body",
    "parse_fields",
]

PERMISSION: Final = permissions.ENRICHMENT.id
MAX_ENRICHMENTS: Final = 10_000

IDENTIFICATION_NAMES: Final = (
    "device/device/name",
    "device/device/uid",
    "user/user/sid",
    "user/user/uid",
    "user/user/upn",
    "binary/binary/uid",
    "package/package/uid",
)

_FIELD_NAME: Final = re.compile(
    r"device/device/configuration_tag"
    r"|device/device/virtualization/[^/#\s]+"
    r"|user/user/ad/[^/#\s]+"
    r"|user/user/organization/#[^/\s]+"
    r"|(?P<object>[a-z_]+)/(?P=object)/#[^/\s]+"  # a custom field: <object>/<object>/#<name>
)

FieldScalar = str | int | float | bool


def field_name_is_valid(name: str) -> bool:
    """Whether ``name`` is a field the Enrichment API can write."""
    return _FIELD_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One ``{message, code}`` entry."""

    message: str
    code: str


@dataclass(frozen=True, slots=True)
class Identification:
    """The one ``{name, value}`` pair that names the object to enrich."""

    name: str
    value: str

    @property
    def object(self) -> str:
        """The object type the identification names, e.g. ``device``."""
        return self.name.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One ``{name, value}`` field to write; an empty string clears the field."""

    name: str
    value: FieldScalar

    @property
    def clears(self) -> bool:
        """Whether this write clears the field (the documented meaning of an empty value)."""
        return self.value == ""


@dataclass(frozen=True, slots=True)
class Enrichment:
    """A valid enrichment, ready to apply."""

    index: int
    identification: Identification
    fields: tuple[FieldValue, ...]


@dataclass(frozen=True, slots=True)
class EnrichmentError:
    """The problems of one enrichment, reported as an ``IndividualObjectError``."""

    index: int
    identification: tuple[Mapping[str, str], ...]
    errors: tuple[ErrorDetail, ...]

    def body(self) -> dict[str, object]:
        """The documented ``{identification, errors:[{message, code}]}`` entry."""
        return {
            "identification": [dict(i) for i in self.identification],
            "errors": [{"message": e.message, "code": e.code} for e in self.errors],
        }


@dataclass(frozen=True, slots=True)
class EnrichmentRequest:
    """A parsed request: the enrichments to apply and the ones that must be reported."""

    domain: str
    enrichments: tuple[Enrichment, ...]
    errors: tuple[EnrichmentError, ...]


def error_body(errors: Sequence[EnrichmentError]) -> dict[str, object]:
    """The 400 body: ``{"status": "error", "errors": [...]}``."""
    return {"status": "error", "errors": [e.body() for e in errors]}


def forbidden_body(message: str) -> dict[str, object]:
    """The documented 403 body ``{message}``."""
    return {"message": message}


def _fail(problems: Sequence[Problem]) -> RequestError:
    whole = EnrichmentError(-1, (), (ErrorDetail(describe(problems), "INVALID_REQUEST"),))
    return RequestError(400, error_body([whole]), problems)


def parse_fields(body: object) -> EnrichmentRequest:
    """Parse ``POST /api/v1/enrichment/data/fields``.

    Raises :class:`RequestError` (400) only for whole-request problems; an invalid enrichment is
    returned in :attr:`EnrichmentRequest.errors` beside the valid ones.
    """
    data = load_object(body, _fail)
    problems: list[Problem] = []
    domain = data.get("domain")
    if domain is None:
        problems.append(Problem("domain", "is required", "missing"))
    elif not isinstance(domain, str):
        problems.append(Problem("domain", "must be a string", "type"))
    elif not domain.strip():
        problems.append(Problem("domain", "must not be empty", "too_short"))
    items = data.get("enrichments")
    if items is None:
        problems.append(Problem("enrichments", "is required", "missing"))
    elif not isinstance(items, list):
        problems.append(Problem("enrichments", "must be an array", "type"))
    elif not items:
        problems.append(Problem("enrichments", "must not be empty", "too_short"))
    elif len(items) > MAX_ENRICHMENTS:
        problems.append(Problem("enrichments", f"at most {MAX_ENRICHMENTS} items", "too_long"))
    if problems or not isinstance(domain, str) or not isinstance(items, list):
        raise _fail(problems)
    valid: list[Enrichment] = []
    invalid: list[EnrichmentError] = []
    for index, item in enumerate(items):
        outcome = _parse_item(index, item)
        if isinstance(outcome, Enrichment):
            valid.append(outcome)
        else:
            invalid.append(outcome)
    return EnrichmentRequest(domain, tuple(valid), tuple(invalid))


def _echo_identification(item: object) -> tuple[Mapping[str, str], ...]:
    """The caller's identification as sent, keeping only well-formed string pairs."""
    if not isinstance(item, dict) or not isinstance(item.get("identification"), list):
        return ()
    return tuple(
        {"name": i["name"], "value": i["value"]}
        for i in item["identification"]
        if isinstance(i, dict)
        and isinstance(i.get("name"), str)
        and isinstance(i.get("value"), str)
    )


def _identification(raw: object, at: str) -> tuple[Identification | None, list[ErrorDetail]]:
    def bad(message: str) -> tuple[None, list[ErrorDetail]]:
        return None, [ErrorDetail(f"{at}.identification{message}", "INVALID_IDENTIFICATION")]

    if raw is None:
        return bad(": is required")
    if not isinstance(raw, list):
        return bad(": must be an array")
    if len(raw) != 1:
        return bad(f": exactly one identification is required, got {len(raw)}")
    pair = raw[0]
    if not isinstance(pair, dict):
        return bad("[0]: must be an object")
    name, value = pair.get("name"), pair.get("value")
    if not isinstance(name, str) or name not in IDENTIFICATION_NAMES:
        return bad(f"[0].name: must be one of {', '.join(IDENTIFICATION_NAMES)}")
    if not isinstance(value, str) or not value.strip():
        return bad("[0].value: must be a non-empty string")
    if name.endswith("/uid") and not is_uuid(value):
        return bad(f"[0].value: {name} must be a UUID")
    if name == "user/user/sid" and not SID_PATTERN.fullmatch(value):
        return bad(f"[0].value: {name} must match {SID_PATTERN.pattern}")
    return Identification(name, value), []


def _fields(
    raw: object, at: str, object_type: str | None
) -> tuple[list[FieldValue], list[ErrorDetail]]:
    if raw is None:
        return [], [ErrorDetail(f"{at}.fields: is required", "INVALID_FIELD")]
    if not isinstance(raw, list):
        return [], [ErrorDetail(f"{at}.fields: must be an array", "INVALID_FIELD")]
    if not raw:
        return [], [ErrorDetail(f"{at}.fields: must not be empty", "INVALID_FIELD")]
    fields: list[FieldValue] = []
    errors: list[ErrorDetail] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw):
        where = f"{at}.fields[{n}]"
        if not isinstance(entry, dict):
            errors.append(ErrorDetail(f"{where}: must be an object", "INVALID_FIELD"))
            continue
        name, value = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not field_name_is_valid(name):
            errors.append(
                ErrorDetail(
                    f"{where}.name: not a field the Enrichment API can write", "INVALID_FIELD_NAME"
                )
            )
            continue
        if object_type is not None and name.split("/", 1)[0] != object_type:
            errors.append(
                ErrorDetail(
                    f"{where}.name: {name} is not a field of the identified {object_type}",
                    "FIELD_OBJECT_MISMATCH",
                )
            )
            continue
        if name in seen:
            errors.append(ErrorDetail(f"{where}.name: {name} is given twice", "DUPLICATE_FIELD"))
            continue
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            errors.append(
                ErrorDetail(
                    f'{where}.value: must be a string, number or boolean ("" clears the field)',
                    "INVALID_FIELD_VALUE",
                )
            )
            continue
        seen.add(name)
        fields.append(FieldValue(name, value))
    return fields, errors


def _parse_item(index: int, item: object) -> Enrichment | EnrichmentError:
    at = f"enrichments[{index}]"
    if not isinstance(item, dict):
        detail = ErrorDetail(f"{at}: must be an object", "INVALID_ENRICHMENT")
        return EnrichmentError(index, (), (detail,))
    identification, errors = _identification(item.get("identification"), at)
    object_type = identification.object if identification else None
    fields, field_errors = _fields(item.get("fields"), at, object_type)
    errors += field_errors
    if identification is None or errors:
        return EnrichmentError(index, _echo_identification(item), tuple(errors))
    return Enrichment(index, identification, tuple(fields))


def decide(request: EnrichmentRequest) -> tuple[int, dict[str, object]]:
    """The documented status and body: 200 all valid, 207 some invalid, 400 all invalid."""
    if not request.errors:
        return 200, {"status": "success"}
    if request.enrichments:
        return 207, {"status": "partial_success", "errors": [e.body() for e in request.errors]}
    return 400, error_body(request.errors)
