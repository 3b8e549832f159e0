"""Lists that page: a limit, an opaque keyset cursor and a search, for every admin list.

A page is read with one ordered query that stops after ``limit + 1`` rows, so its cost does not
grow with the table; the cursor carries the sort key of the last row shown (base64url JSON), so
a page stays stable while rows are added or removed before it. ``total`` counts every row that
matches the search.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from credgate.core.errors import FieldError, InvalidInputError

if TYPE_CHECKING:
    # SQLAlchemy is imported when a page is read, so that the command line's list options
    # (which import this module) start without it.
    from sqlalchemy import Select
    from sqlalchemy.orm import InstrumentedAttribute, Session

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "PageRequest",
    "iterate",
    "keyset_page",
    "pages",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_Q_MAX = 200
_CURSOR_MAX = 1000

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of a list: at most ``limit`` rows after ``cursor``, matching ``q``."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    q: str = ""

    @classmethod
    def parse(
        cls, limit: str | int | None = None, cursor: str | None = None, q: str | None = None
    ) -> PageRequest:
        """From query parameters or options; every value at fault is named."""
        errors: list[FieldError] = []
        size = DEFAULT_LIMIT
        if limit is not None and limit != "":
            try:
                size = int(limit)
            except ValueError:
                errors.append(FieldError("limit", "must be a whole number"))
            else:
                if not 1 <= size <= MAX_LIMIT:
                    errors.append(FieldError("limit", f"must be between 1 and {MAX_LIMIT}"))
        if cursor and (len(cursor) > _CURSOR_MAX or _decode(cursor) is None):
            errors.append(FieldError("cursor", "is not a cursor this list gave"))
        text = (q or "").strip()
        if len(text) > _Q_MAX:
            errors.append(FieldError("q", f"must be at most {_Q_MAX} characters"))
        elif any(ord(ch) < 32 for ch in text):
            errors.append(FieldError("q", "must not contain control characters"))
        if errors:
            raise InvalidInputError(errors)
        return cls(limit=size, cursor=cursor or None, q=text)

    def after(self, cursor: str | None) -> PageRequest:
        return PageRequest(limit=self.limit, cursor=cursor, q=self.q)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None
    limit: int

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page(
            [convert(item) for item in self.items], self.total, self.next_cursor, self.limit
        )


def _encode(values: Sequence[Any]) -> str:
    wire = [{"t": v.isoformat()} if isinstance(v, dt.datetime) else v for v in values]
    raw = json.dumps(wire, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        wire = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(wire, list) or not wire:
        return None
    values: list[Any] = []
    for item in wire:
        if isinstance(item, dict):
            try:
                values.append(dt.datetime.fromisoformat(str(item["t"])))
            except (KeyError, ValueError):
                return None
        elif item is None or (isinstance(item, str | int) and not isinstance(item, bool)):
            values.append(item)
        else:
            return None
    return values


def _fits(value: Any, column: InstrumentedAttribute[Any]) -> bool:
    """Whether a cursor's value has its column's type: a forged one must not reach the
    database, which would refuse it with an error rather than an answer."""
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return True
    return isinstance(value, expected)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def keyset_page(
    session: Session,
    query: Select[T],
    request: PageRequest,
    *,
    order: Sequence[InstrumentedAttribute[Any]],
    search: Sequence[InstrumentedAttribute[Any]] = (),
    descending: bool = False,
) -> Page[T]:
    """One page of ``query`` (one entity per row), ordered by ``order``, whose values together
    are unique (end with the primary key). ``search`` are the columns ``q`` looks in."""
    from sqlalchemy import func, literal, or_, select, tuple_

    if request.q and search:
        pattern = f"%{_escape_like(request.q)}%"
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in search)))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if request.cursor:
        values = _decode(request.cursor)
        if (
            values is None
            or len(values) != len(order)
            or not all(_fits(value, column) for value, column in zip(values, order, strict=True))
        ):
            raise InvalidInputError([FieldError("cursor", "is not a cursor this list gave")])
        key = order[0] if len(order) == 1 else tuple_(*order)
        bound = [literal(v, column.type) for v, column in zip(values, order, strict=True)]
        last: Any = bound[0] if len(order) == 1 else tuple_(*bound)
        query = query.where(key < last if descending else key > last)
    ordering = [column.desc() if descending else column.asc() for column in order]
    rows = list(session.scalars(query.order_by(*ordering).limit(request.limit + 1)))
    following = None
    if len(rows) > request.limit:
        rows = rows[: request.limit]
        following = _encode([getattr(rows[-1], column.key) for column in order])
    return Page(rows, total, following, request.limit)


def pages(read: Callable[[PageRequest], Page[T]], batch: int = MAX_LIMIT) -> Iterator[list[T]]:
    """Every page of a list, in order, each as it is read (``--all`` on the command line)."""
    request = PageRequest(limit=batch)
    while True:
        page = read(request)
        yield page.items
        if page.next_cursor is None:
            return
        request = request.after(page.next_cursor)


def iterate(read: Callable[[PageRequest], Page[T]], batch: int = MAX_LIMIT) -> Iterator[T]:
    """Every row of a list, read a page at a time."""
    for items in pages(read, batch):
        yield from items
