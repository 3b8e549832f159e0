"""Shared machinery of the request parsers: JSON loading, problems, the request error.

Every family parser turns any input (raw bytes, text, or an already decoded JSON value) into a
typed request or a :class:`RequestError` that carries the family's documented error body. No
other exception escapes a parser.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

__all__ = [
    "MAX_LISTED_PROBLEMS",
    "SID_PATTERN",
    "UUID_PATTERN",
    "Problem",
    "RequestError",
    "Sid",
    "Uuid",
    "WireModel",
    "code_message_body",
    "describe",
    "header",
    "invalid_request",
    "is_uuid",
    "load_json",
    "load_object",
    "nested_deeper_than",
    "parse_model",
    "problems_from",
    "uuid_text",
]

SID_PATTERN: Final = re.compile(r"^S(-\d+){2,10}$|^0$")
"""A Windows security identifier as the Workflows and Campaigns APIs accept it."""

UUID_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
"""A UUID in its canonical 8-4-4-4-12 text form."""

Sid = Annotated[str, StringConstraints(pattern=SID_PATTERN.pattern)]
"""A JSON string holding a SID."""

Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
"""A JSON string holding a UUID (kept as text: the APIs echo what they were sent)."""

MAX_LISTED_PROBLEMS: Final = 10
"""A message lists at most this many problems; 10,000 bad items make one readable line."""

_UUID_RE: Final = re.compile(UUID_PATTERN)


def is_uuid(value: str) -> bool:
    """True when ``value`` is a UUID in canonical text form."""
    return _UUID_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: the field path at fault and what is wrong with it.

    ``kind`` is a coarse category (``missing``, ``type``, ``too_long``, ``too_short``,
    ``range``, ``pattern``, ``choice``, ``value``, ``json``) that lets a family pick its
    documented error code, e.g. ``BATCH_SIZE_EXCEEDED`` for ``devices`` / ``too_long``.
    """

    field: str
    message: str
    kind: str = "value"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RequestError(Exception):
    """A request that cannot be accepted, with the exact error body its family documents."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, object],
        problems: Sequence[Problem] = (),
    ) -> None:
        self.status = status
        self.body: dict[str, object] = dict(body)
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(describe(self.problems) if self.problems else str(self.body))


class WireModel(BaseModel):
    """Base of every request model: camelCase wire names, strict JSON types, immutable.

    Strict mode keeps ``"60"`` from passing as an integer and ``1`` from passing as a string;
    unknown fields are ignored so that clients sending extra keys keep working.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        strict=True,
        frozen=True,
        extra="ignore",
    )


def describe(problems: Sequence[Problem]) -> str:
    """One readable line naming every field at fault (the first few, then a count)."""
    shown = "; ".join(str(p) for p in problems[:MAX_LISTED_PROBLEMS])
    rest = len(problems) - MAX_LISTED_PROBLEMS
    return f"{shown}; and {rest} more" if rest > 0 else shown


def nested_deeper_than(value: object, limit: int) -> bool:
    """True when ``value`` (decoded JSON) nests arrays and objects more than ``limit`` deep.

    Iterative, so that it answers for any depth; the validators and serialisers that run after
    it recurse, and fail on deep input with errors that are not the caller's fault.
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth >= limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def load_json(body: object) -> object:
    """Decode ``body`` when it is raw bytes or text; pass an already decoded value through.

    Raises :class:`ValueError` with a readable reason when the bytes are not UTF-8 JSON.
    """
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("is not UTF-8 text") from None
    elif isinstance(body, str):
        text = body
    else:
        return body
    if not text.strip():
        raise ValueError("is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ValueError("is nested too deeply") from None


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else part
    return out or "body"


_TYPE_NAMES: Final = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "float_type": "a number",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


_PATTERN_NAMES: Final = {
    UUID_PATTERN: "must be a UUID",
    SID_PATTERN.pattern: f"must be a SID matching {SID_PATTERN.pattern}",
}


def _message(error: Mapping[str, Any]) -> tuple[str, str]:
    """Translate one pydantic error into ``(message, kind)`` in the API's own words."""
    kind = str(error["type"])
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "missing":
        return "is required", "missing"
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]}", "type"
    if kind == "too_long":
        return f"at most {ctx['max_length']} items", "too_long"
    if kind == "too_short":
        minimum = ctx["min_length"]
        if minimum == 1:
            return "must not be empty", "too_short"
        return f"at least {minimum} items", "too_short"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} characters", "too_long"
    if kind == "string_too_short":
        if ctx["min_length"] == 1:
            return "must not be empty", "too_short"
        return f"at least {ctx['min_length']} characters", "too_short"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}", "range"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}", "range"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx["pattern"])
        return _PATTERN_NAMES.get(pattern, f"must match {pattern}"), "pattern"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}", "choice"
    if kind == "extra_forbidden":
        return "is not a known field", "value"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])), "value"
    return str(error["msg"]), "value"


def problems_from(exc: ValidationError) -> list[Problem]:
    """Every error of a pydantic validation, as :class:`Problem` objects naming wire fields."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message, kind = _message(error)
        problems.append(Problem(_path(error["loc"]), message, kind))
    return problems


M = TypeVar("M", bound=BaseModel)


def load_object(body: object, fail: Callable[[Sequence[Problem]], RequestError]) -> dict[str, Any]:
    """``body`` as a JSON object; not JSON, or JSON of another type, becomes ``fail(problems)``."""
    try:
        data = load_json(body)
    except ValueError as exc:
        raise fail([Problem("body", str(exc), "json")]) from None
    if not isinstance(data, dict):
        raise fail([Problem("body", "must be a JSON object", "type")])
    return data


def parse_model(
    model: type[M],
    body: object,
    fail: Callable[[Sequence[Problem]], RequestError],
) -> M:
    """Load ``body`` and validate it as ``model``; any problem becomes ``fail(problems)``."""
    data = load_object(body, fail)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise fail(problems_from(exc)) from None
    except RecursionError:
        raise fail([Problem("body", "is nested too deeply", "json")]) from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header look-up over a plain mapping (RFC 9110 section 5.1)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def uuid_text(value: uuid.UUID | str) -> str:
    """A UUID as the lower-case text the APIs answer with."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def code_message_body(code: str, message: str) -> dict[str, object]:
    """The documented ``{code, message}`` error body of the Campaigns and Remote Actions APIs."""
    return {"code": code, "message": message}


def invalid_request(problems: Sequence[Problem]) -> RequestError:
    """400 ``INVALID_REQUEST`` in the ``{code, message}`` body (Campaigns, Remote Actions)."""
    return RequestError(400, code_message_body("INVALID_REQUEST", describe(problems)), problems)
