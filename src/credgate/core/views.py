"""JSON-ready dicts from the frozen view dataclasses that services hand to the API and CLI.

A view's fields are its wire keys, in order; only the value types JSON lacks are converted
(datetimes to ISO 8601, tuples to lists), so a view and its JSON shape cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["view_of", "wire_dict"]

V = TypeVar("V", bound="DataclassInstance")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def wire_dict(view: DataclassInstance, *, camel: bool = False) -> dict[str, Any]:
    """The view's fields by name (``camel``: ``client_id`` as ``clientId``, for the platform
    APIs' spelling), in declaration order, with JSON-ready values."""
    key = _camel if camel else str
    return {key(f.name): _plain(getattr(view, f.name)) for f in fields(view)}


def view_of(view: type[V], row: object) -> V:
    """A ``view`` of ``row``: each of the view's fields read from the row's attribute of the
    same name, so that a column added to both cannot be forgotten in between."""
    return view(**{f.name: getattr(row, f.name) for f in fields(view)})
