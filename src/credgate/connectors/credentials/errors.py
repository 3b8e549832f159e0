"""Validation errors for connector credentials: every problem at once, each naming its field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CredentialValidationError", "FieldError"]


@dataclass(frozen=True)
class FieldError:
    """One problem with one field.

    ``field`` is a dotted path into the input, such as ``"url"`` or
    ``"authorization.client_secret"``; the empty string means the input as a whole.
    ``message`` says what is wrong and never repeats a submitted value that could be secret.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class CredentialValidationError(ValueError):
    """A connector credential was refused; ``errors`` lists every problem found."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        super().__init__(
            "invalid connector credential: " + "; ".join(str(error) for error in self.errors)
        )

    @property
    def fields(self) -> list[str]:
        """The names of the fields at fault, in the order the errors were found."""
        return [error.field for error in self.errors]
