"""JSON-ready dicts from the frozen view dataclasses that services hand to the API and CLI.

A view's fields are its wire keys, in order; only the value types JSON lacks are converted
(datetimes to ISO 8601, tuples to lists), so a view and its JSON shape cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["wire_dict"]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def wire_dict(view: DataclassInstance) -> dict[str, Any]:
    """The view's fields by name, in declaration order, with JSON-ready values."""
    return {f.name: _plain(getattr(view, f.name)) for f in fields(view)}
