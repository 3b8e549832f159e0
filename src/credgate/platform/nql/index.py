"""The typed index of inventory values that compiled NQL queries search.

An object's NQL row (its identification columns and its ``fields``) becomes one entry per field,
plus one per scalar item of a list field, each typed by :func:`kind_of`. The entries carry what
the in-memory engine looks at when it compares, tests ``contains`` or sorts, so that SQL gives
the same answer: the number, the text and its first characters (indexed), the case-folded text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

__all__ = [
    "ITEM_KINDS",
    "KEY_CHARS",
    "KINDS",
    "Kind",
    "entries",
    "kind_of",
    "number",
    "object_row",
]

Kind = Literal["bool", "int", "float", "text", "list", "object"]
KINDS: Final[tuple[Kind, ...]] = ("bool", "int", "float", "text", "list", "object")
ITEM_KINDS: Final[tuple[Kind, ...]] = ("bool", "int", "float", "text")
"""Kinds of list items worth indexing: an item that is itself a list or an object never equals
a scalar, so ``contains`` can never match it."""

KEY_CHARS: Final = 200
IDENTIFICATION: Final = ("name", "sid", "upn")


def kind_of(value: object) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "list"
    return "object"


def object_row(
    uid: str, identification: Mapping[str, str | None], fields: Mapping[str, Any] | None
) -> dict[str, Any]:
    """An object's NQL row: ``uid``, the identification columns it has, then its fields."""
    row: dict[str, Any] = {"uid": uid}
    for column in IDENTIFICATION:
        value = identification.get(column)
        if value is not None:
            row[column] = value
    row.update(fields or {})
    return row


def number(value: float) -> float:
    """``value`` as the double the index holds."""
    try:
        return float(value)
    except OverflowError:  # an integer beyond a double: it still sorts past every double
        return math.copysign(math.inf, value)


def _entry(object_id: int, obj: str, field: str, position: int, value: object) -> dict[str, object]:
    kind = kind_of(value)
    num: float | None = None
    text: str | None = None
    if kind in ("bool", "int", "float"):
        num = number(value)  # type: ignore[arg-type]
    elif kind == "text":
        text = str(value)
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    folded = str(value).casefold() if position < 0 and kind != "list" else None
    return {
        "object_id": object_id,
        "field": field,
        "position": position,
        "object": obj,
        "kind": kind,
        "num": num,
        "key": text[:KEY_CHARS] if text is not None else None,
        "text": text,
        "folded": folded,
    }


def entries(object_id: int, obj: str, row: Mapping[str, Any]) -> Iterator[dict[str, object]]:
    """The index entries of one object (``obj`` is its singular type, e.g. ``device``)."""
    for field, value in row.items():
        if value is None:
            continue
        yield _entry(object_id, obj, field, -1, value)
        if isinstance(value, list | tuple):
            for position, item in enumerate(value):
                if item is not None and kind_of(item) in ITEM_KINDS:
                    yield _entry(object_id, obj, field, position, item)
