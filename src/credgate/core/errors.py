"""Errors that services raise and edges (REST API, CLI, UI) turn into answers.

::

    CredgateError
    ├── NotFoundError          404: no such object
    ├── ConflictError          409: a unique name is taken
    └── InvalidInputError      422: one or more fields at fault, each named
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # only its errors() are read: importing pydantic stays with its callers
    from pydantic import ValidationError

__all__ = [
    "ConflictError",
    "CredgateError",
    "FieldError",
    "InvalidInputError",
    "NotFoundError",
    "plain_errors",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class CredgateError(Exception):
    status = 400
    code = "error"


class NotFoundError(CredgateError):
    status = 404
    code = "not_found"


T = TypeVar("T")


def found(row: T | None, missing: str) -> T:
    """``row``, or :class:`NotFoundError` saying ``missing`` when there is none."""
    if row is None:
        raise NotFoundError(missing)
    return row


class ConflictError(CredgateError):
    status = 409
    code = "conflict"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.errors = [FieldError(field, message)]


class InvalidInputError(CredgateError):
    status = 422
    code = "invalid_input"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def _plain_message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "is required"
    if kind == "string_too_short":
        return f"must be at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '').replace(chr(39), '')}"
    if kind == "extra_forbidden":
        return "is not a field credgate knows"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("string_type", "dict_type", "list_type", "int_type", "int_parsing"):
        what = {"string": "text", "dict": "an object", "list": "a list"}
        return f"must be {what.get(kind.split('_')[0], 'a whole number')}"
    return str(error["msg"]).rstrip(".").lower()


def plain_errors(exc: ValidationError) -> list[FieldError]:
    """A model's validation errors in credgate's words, each naming its field (``a.b``), every
    one of them at once rather than pydantic's wording."""
    return [
        FieldError(".".join(str(p) for p in e["loc"]) or "body", _plain_message(e))
        for e in exc.errors()
    ]
