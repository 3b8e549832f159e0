"""Errors that services raise and edges (REST API, CLI, UI) turn into answers.

::

    CredgateError
    ├── NotFoundError          404: no such object
    ├── ConflictError          409: a unique name is taken
    └── InvalidInputError      422: one or more fields at fault, each named
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConflictError", "CredgateError", "FieldError", "InvalidInputError", "NotFoundError"]


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
