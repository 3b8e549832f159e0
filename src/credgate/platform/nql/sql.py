"""Saved NQL queries compiled to SQL over the inventory and its typed index.

The in-memory engine (:mod:`credgate.platform.nql.engine`) defines what a query means; this
module gives the same answer from the database, reading only the rows it returns:

- A value is compared as the type it holds (``kind`` in :class:`InventoryValue`), so a filter
  becomes, for each kind its value can be coerced to, an indexed lookup in the values of that
  kind; the lookups of one filter are joined with ``UNION ALL``, filters with ``AND``.
- A value that does not coerce to a kind (``"lots"`` against integers) is the same
  :class:`ParameterError` or :class:`QueryExecutionError` as in memory, raised when a row that
  reaches the filter holds that kind: one indexed existence probe before the query runs.
- Sorting joins each key's value and orders by null-last, then the in-memory rank of its type
  (numbers, text, booleans, lists and objects), then the value; ties keep inventory order.

Rows are read with a streaming cursor: memory holds a batch, never the inventory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.engine import Result as SqlResult
from sqlalchemy.orm import Session

from credgate.platform.models import InventoryObject, InventoryValue
from credgate.platform.nql.engine import (
    SINGULAR,
    Bound,
    Filter,
    ParameterError,
    QueryDefinition,
    QueryExecutionError,
    Term,
    bind,
    executed_text,
)
from credgate.platform.nql.index import ITEM_KINDS, KEY_CHARS, Kind, number, object_row

__all__ = ["BATCH", "SINGULAR", "RowStream", "compile_query", "open_rows"]

BATCH: Final = 1000
"""Rows fetched per round trip of the streaming cursor."""

_O = InventoryObject.__table__.c
_V = InventoryValue.__table__
_SAMPLE: Final[dict[Kind, object]] = {"bool": True, "int": 0, "float": 0.0, "text": ""}
_NUMERIC: Final = ("bool", "int", "float")
_RANK: Final = {"int": 0, "float": 0, "text": 1, "bool": 4}  # engine._sort_rank; else 5
_MISS = object()
_CURSOR_PLANS: Final = "credgate.nql.cursor_tuple_fraction"


@dataclass(frozen=True, slots=True)
class _Check:
    """Filter ``index`` meets a value of ``kind`` its term does not coerce to: ``error``."""

    index: int
    kind: Kind
    items: bool
    error: Exception
    spared: Select[Any] | None = None
    """Objects that meet no error: in memory a match found first stops the evaluation."""


@dataclass(slots=True)
class _Compiler:
    query: QueryDefinition
    bound: Bound
    obj: str
    checks: list[_Check] = field(default_factory=list)

    def values(self, name: str, kind: Kind, *, items: bool = False) -> Select[Any]:
        position = _V.c.position >= 0 if items else _V.c.position == -1
        return select(_V.c.object_id).where(
            _V.c.object == self.obj, _V.c.field == name, _V.c.kind == kind, position
        )

    def coerce(self, index: int, term: Term, kind: Kind, items: bool = False) -> object:
        try:
            return self.bound.resolve(term, _SAMPLE[kind], f"filters[{index}]")
        except (ParameterError, QueryExecutionError) as exc:
            self.checks.append(_Check(index, kind, items, exc))
            return _MISS

    def condition(self, index: int, f: Filter) -> ColumnElement[bool]:
        branches: list[Select[Any]] = []
        if f.op == "contains":
            branches.extend(self._contains(index, f))
        elif f.op == "in":
            branches.extend(self._in(index, f))
        else:
            branches.extend(self._compare(index, f))
        if not branches:
            return false()
        source = branches[0] if len(branches) == 1 else union_all(*branches)
        return _O.id.in_(source)

    def _compare(self, index: int, f: Filter) -> Iterator[Select[Any]]:
        if isinstance(f.value, tuple):  # only "in" holds a tuple; validation guarantees it
            return
        for kind in _SAMPLE:
            value = self.coerce(index, f.value, kind)
            if value is not _MISS:
                yield self.values(f.field, kind).where(_predicate(f.op, kind, value))
        if f.op == "ne":  # a list or an object is never equal to a scalar
            yield self.values(f.field, "list")
            yield self.values(f.field, "object")

    def _in(self, index: int, f: Filter) -> Iterator[Select[Any]]:
        terms = f.value if isinstance(f.value, tuple) else (f.value,)
        for kind in _SAMPLE:
            matched: list[ColumnElement[bool]] = []
            for term in terms:
                try:
                    value = self.bound.resolve(term, _SAMPLE[kind], f"filters[{index}]")
                except (ParameterError, QueryExecutionError) as exc:
                    # In memory a term is coerced only when no earlier term matched.
                    spared = self.values(f.field, kind).where(or_(*matched)) if matched else None
                    self.checks.append(_Check(index, kind, False, exc, spared))
                    break
                matched.append(_predicate("eq", kind, value))
            if matched:
                yield self.values(f.field, kind).where(or_(*matched))

    def _contains(self, index: int, f: Filter) -> Iterator[Select[Any]]:
        if isinstance(f.value, tuple):
            return
        found: list[Select[Any]] = []
        misfits: list[_Check] = []
        for kind in ITEM_KINDS:
            try:
                value = self.bound.resolve(f.value, _SAMPLE[kind], f"filters[{index}]")
            except (ParameterError, QueryExecutionError) as exc:
                misfits.append(_Check(index, kind, True, exc))
                continue
            found.append(
                self.values(f.field, kind, items=True).where(_predicate("eq", kind, value))
            )
        # A list holding the item is spared the items that do not fit (memory stops at the
        # match; this spares the list even when the misfit comes first).
        spared = union_all(*found).subquery() if found else None
        for check in misfits:
            self.checks.append(
                replace(check, spared=select(spared.c.object_id) if spared is not None else None)
            )
        yield from found
        needle = str(self.bound.resolve(f.value, "", f"filters[{index}]")).casefold()
        pattern = "%" + _escape_like(needle) + "%"
        yield (
            select(_V.c.object_id)
            .where(_V.c.object == self.obj, _V.c.field == f.field, _V.c.position == -1)
            .where(_V.c.kind != "list", _V.c.folded.like(pattern, escape="\\"))
        )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _predicate(op: str, kind: Kind, value: object) -> ColumnElement[bool]:
    if kind in _NUMERIC:
        num = number(value)  # type: ignore[arg-type]
        column = _V.c.num
        return {
            "eq": column == num,
            "ne": column != num,
            "lt": column < num,
            "le": column <= num,
            "gt": column > num,
            "ge": column >= num,
        }[op]
    text = str(value)
    key = text[:KEY_CHARS]
    # ``key`` (indexed) narrows, ``text`` decides: a prefix orders like the text it starts.
    return {
        "eq": and_(_V.c.key == key, _V.c.text == text),
        "ne": _V.c.text != text,
        "lt": and_(_V.c.key <= key, _V.c.text < text),
        "le": and_(_V.c.key <= key, _V.c.text <= text),
        "gt": and_(_V.c.key >= key, _V.c.text > text),
        "ge": and_(_V.c.key >= key, _V.c.text >= text),
    }[op]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A query ready to run: its statement, and the probes that raise a coercion error."""

    query: QueryDefinition
    executed_query: str
    statement: Select[Any]
    probes: tuple[tuple[Select[Any], Select[Any], Exception], ...]
    """Per misfit: whether its kind is held at all, the first object that meets it, the error."""


def compile_query(
    definition: QueryDefinition | Mapping[str, object],
    parameters: Mapping[str, str],
    *,
    max_rows: int | None = None,
    restrict: Mapping[str, frozenset[str]] | None = None,
) -> Compiled:
    """Compile a saved query. A missing parameter raises :class:`ParameterError` here.

    ``restrict`` keeps only objects whose field is absent, null, or one of the given texts
    (the classic API's ``platform`` selector). ``max_rows`` caps the rows read at one more than
    itself, so that the reader can tell a truncated answer.
    """
    query, bound = bind(definition, parameters)
    obj = SINGULAR[query.object]
    compiler = _Compiler(query, bound, obj)
    conditions = [compiler.condition(i, f) for i, f in enumerate(query.filters)]
    for name, allowed in (restrict or {}).items():
        present = select(_V.c.object_id).where(
            _V.c.object == obj, _V.c.field == name, _V.c.position == -1
        )
        listed = present.where(_V.c.kind == "text", _V.c.text.in_(sorted(allowed)))
        conditions.append(or_(not_(_O.id.in_(present)), _O.id.in_(listed)))
    probes = []
    for check in compiler.checks:
        held = compiler.values(query.filters[check.index].field, check.kind, items=check.items)
        if check.spared is not None:
            held = held.where(_V.c.object_id.not_in(check.spared))
        probe = (
            select(_O.id)
            .where(_O.object == obj, *conditions[: check.index], _O.id.in_(held))
            .order_by(_O.id)
            .limit(1)
        )
        probes.append((held, probe, check.error))
    columns = (_O.uid, _O.name, _O.sid, _O.upn, _O.fields)
    statement = select(*columns).where(_O.object == obj, *conditions)
    order: list[ColumnElement[Any]] = []
    for n, key in enumerate(query.sort):
        value = _V.alias(f"sort_{n}")
        statement = statement.outerjoin(
            value,
            and_(value.c.object_id == _O.id, value.c.field == key.field, value.c.position == -1),
        )
        rank = case(
            *((value.c.kind == kind, literal_column(str(r))) for kind, r in _RANK.items()),
            else_=literal_column("5"),
        )
        order.append(case((value.c.kind.is_(None), 1), else_=0))
        for column in (rank, value.c.num, value.c.text):
            order.append(column.desc() if key.desc else column.asc())
    statement = statement.order_by(*order, _O.id)
    caps = [c for c in (query.limit, None if max_rows is None else max_rows + 1) if c]
    if caps:
        statement = statement.limit(min(caps))
    return Compiled(query, executed_text(query, parameters), statement, tuple(probes))


class RowStream:
    """The selected rows in column order, read as they are iterated.

    :attr:`truncated` is known once the rows are exhausted: whether ``max_rows`` cut some off.
    """

    def __init__(self, compiled: Compiled, source: SqlResult[Any], max_rows: int | None) -> None:
        self.query_id = compiled.query.id
        self.executed_query = compiled.executed_query
        self.headers = compiled.query.columns
        self.truncated = False
        self._source = source
        self._max_rows = max_rows

    def __iter__(self) -> Iterator[list[object]]:
        columns = self.headers
        with self._source:  # a server-side cursor is closed however the reading ends
            for count, found in enumerate(self._source):
                if self._max_rows is not None and count >= self._max_rows:
                    self.truncated = True
                    return
                uid, name, sid, upn, fields = tuple(found)
                row = object_row(uid, {"name": name, "sid": sid, "upn": upn}, fields)
                yield [row.get(c) for c in columns]

    @property
    def rows(self) -> Iterator[list[object]]:
        return iter(self)

    def close(self) -> None:
        """Release the cursor of rows left unread."""
        self._source.close()


def open_rows(session: Session, compiled: Compiled, *, max_rows: int | None) -> RowStream:
    """Raise the query's coercion error if a row meets it; else start reading its rows."""
    # In memory, the first row (in inventory order) that meets a misfit raises; within a row,
    # the first filter does. Usually no value of a misfit's kind exists: one round trip of
    # index-only looks settles them all.
    met = []
    if compiled.probes:
        held = session.execute(select(*(exists(p[0]) for p in compiled.probes))).one()
        for order, (_, probe, error) in enumerate(compiled.probes):
            if held[order]:
                first = session.execute(probe).scalar()
                if first is not None:
                    met.append((first, order, error))
    if met:
        raise min(met, key=lambda m: m[:2])[2]
    connection = session.connection()
    if connection.dialect.name == "postgresql" and not connection.info.get(_CURSOR_PLANS):
        # A streaming (server-side) cursor is planned for its first 10% of rows by default,
        # which prefers walking the inventory in order to the index a lookup needs. Set once
        # per pooled connection.
        session.execute(sql_text("SET cursor_tuple_fraction = 1"))
        connection.info[_CURSOR_PLANS] = True
    result = session.execute(compiled.statement.execution_options(yield_per=BATCH))
    return RowStream(compiled, result, max_rows)
