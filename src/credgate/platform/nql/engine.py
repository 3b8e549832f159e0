"""The NQL selection engine: a saved query as a small declarative selection over rows.

A saved query definition is a JSON object::

    {"id": "#windows_devices", "object": "devices",
     "filters": [{"field": "os", "op": "eq", "value": "$os"},
                 {"field": "ram_gb", "op": "ge", "value": 8}],
     "columns": ["name", "os", "ram_gb"],
     "sort": [{"field": "ram_gb", "desc": true}],
     "limit": 100}

Semantics, chosen to be predictable:

- Filters are joined with AND. A string value ``"$name"`` refers to the parameter ``name`` that
  the caller sends without the ``$``; ``"$$..."`` is a literal string starting with ``$``.
- Parameter strings (and literals of another type) are coerced to the type of the row value
  they are compared with: bool (``true``/``false``/``1``/``0``), int, float, ISO 8601
  date-time or date, else text. A parameter that does not coerce is a :class:`ParameterError`.
- A row without the field, or with ``null``, matches no filter (SQL's NULL rule).
- ``eq``/``ne`` on text are exact; ``contains`` is a case-insensitive substring test on text and
  a membership test on a list value; ``in`` takes an array of values.
- Sorting is stable, by each sort key in turn; ``null`` sorts last in either direction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from credgate.platform.schemas._common import Problem, describe, problems_from

__all__ = [
    "MAX_LIMIT",
    "OBJECTS",
    "OPERATORS",
    "SINGULAR",
    "Bound",
    "Filter",
    "ObjectName",
    "Operator",
    "Param",
    "ParameterError",
    "QueryDefinition",
    "QueryDefinitionError",
    "QueryExecutionError",
    "Result",
    "SortKey",
    "bind",
    "execute",
    "executed_text",
    "validate_query_definition",
]

ObjectName = Literal["devices", "users", "binaries", "packages"]
Operator = Literal["eq", "ne", "lt", "le", "gt", "ge", "contains", "in"]
OBJECTS: Final[tuple[ObjectName, ...]] = ("devices", "users", "binaries", "packages")
SINGULAR: Final[Mapping[ObjectName, str]] = {
    "devices": "device",
    "users": "user",
    "binaries": "binary",
    "packages": "package",
}
"""Each object's singular name, the ``object`` of its inventory rows and its NXQL table."""
OPERATORS: Final[tuple[Operator, ...]] = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "in")
MAX_LIMIT: Final = 1_000_000

_QUERY_ID: Final = r"^#[a-z0-9_]{2,255}$"
_FIELD: Final = r"^[A-Za-z_#][A-Za-z0-9_#]*(\.[A-Za-z_#][A-Za-z0-9_#]*)*$"
_PARAM: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

Scalar = str | int | float | bool


class QueryDefinitionError(ValueError):
    """A saved query definition that cannot be used; names every field at fault."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"invalid query definition: {describe(self.problems)}")


class ParameterError(ValueError):
    """A parameter the query needs is missing, or its value does not fit the compared field."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.reason = message
        super().__init__(f"parameters.{name}: {message}")


class QueryExecutionError(ValueError):
    """A literal of the definition does not fit the type of the field it is compared with."""


@dataclass(frozen=True, slots=True)
class Param:
    """A reference to the caller-supplied parameter ``name`` (written ``$name``)."""

    name: str


Term = Scalar | Param


@dataclass(frozen=True, slots=True)
class Filter:
    """``field op value``; ``value`` is a tuple of terms for ``in``."""

    field: str
    op: Operator
    value: Term | tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    """Sort by ``field``, descending when ``desc``."""

    field: str
    desc: bool = False


@dataclass(frozen=True, slots=True)
class QueryDefinition:
    """A validated saved query."""

    id: str
    object: ObjectName
    filters: tuple[Filter, ...]
    columns: tuple[str, ...]
    sort: tuple[SortKey, ...] = ()
    limit: int | None = None

    @property
    def parameter_names(self) -> frozenset[str]:
        """Names (without ``$``) of every parameter the query refers to."""
        names: set[str] = set()
        for f in self.filters:
            terms = f.value if isinstance(f.value, tuple) else (f.value,)
            names.update(t.name for t in terms if isinstance(t, Param))
        return frozenset(names)


@dataclass(frozen=True, slots=True)
class Result:
    """Selected rows, in column order, and a readable text of the query that ran."""

    query_id: str
    executed_query: str
    headers: tuple[str, ...]
    rows: list[list[object]]
    truncated: bool = False


# -- definition -------------------------------------------------------------------------------


class _Strict(BaseModel):
    # Saved queries are configuration: an unknown key is a typo worth reporting.
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


class _RawFilter(_Strict):
    field: str = Field(pattern=_FIELD)
    op: Operator
    value: Any

    @field_validator("value")
    @classmethod
    def _json_scalar_or_list(cls, value: object) -> object:
        if _is_scalar(value):
            return value
        if isinstance(value, list) and value and all(_is_scalar(v) for v in value):
            return value
        raise ValueError("must be a string, number or boolean, or a non-empty array of them")


class _RawSort(_Strict):
    field: str = Field(pattern=_FIELD)
    desc: bool = False


class _RawDefinition(_Strict):
    id: str = Field(pattern=_QUERY_ID)
    object: ObjectName
    filters: list[_RawFilter] = Field(default_factory=list)
    columns: list[str] = Field(min_length=1)
    sort: list[_RawSort] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT)


def _term(value: Scalar, where: str) -> Term:
    if not isinstance(value, str) or not value.startswith("$"):
        return value
    if value.startswith("$$"):
        return value[1:]
    match = _PARAM.fullmatch(value)
    if match is None:
        raise QueryDefinitionError(
            [Problem(where, f"{value!r} is not a parameter name ($ then letters, digits, _)")]
        )
    return Param(match.group(1))


def _filter(raw: _RawFilter, where: str) -> Filter:
    if raw.op == "in":
        if not isinstance(raw.value, list):
            raise QueryDefinitionError([Problem(where, "op in needs an array value")])
        return Filter(raw.field, raw.op, tuple(_term(v, where) for v in raw.value))
    if isinstance(raw.value, list):
        raise QueryDefinitionError([Problem(where, f"op {raw.op} needs a single value")])
    return Filter(raw.field, raw.op, _term(raw.value, where))


def validate_query_definition(definition: object) -> QueryDefinition:
    """Check a saved query definition (a decoded JSON object) and return it typed.

    Raises :class:`QueryDefinitionError` naming every field at fault.
    """
    if isinstance(definition, QueryDefinition):
        return definition
    if not isinstance(definition, Mapping):
        raise QueryDefinitionError([Problem("definition", "must be a JSON object", "type")])
    try:
        raw = _RawDefinition.model_validate(dict(definition))
    except ValidationError as exc:
        raise QueryDefinitionError(problems_from(exc)) from None
    duplicates = sorted({c for c in raw.columns if raw.columns.count(c) > 1})
    if duplicates:
        raise QueryDefinitionError([Problem("columns", f"repeated: {', '.join(duplicates)}")])
    bad_columns = [c for c in raw.columns if not re.fullmatch(_FIELD, c)]
    if bad_columns:
        raise QueryDefinitionError([Problem("columns", f"not field names: {bad_columns!r}")])
    filters = tuple(_filter(f, f"filters[{i}].value") for i, f in enumerate(raw.filters))
    return QueryDefinition(
        id=raw.id,
        object=raw.object,
        filters=filters,
        columns=tuple(raw.columns),
        sort=tuple(SortKey(s.field, s.desc) for s in raw.sort),
        limit=raw.limit,
    )


# -- coercion ---------------------------------------------------------------------------------

_TRUE: Final = frozenset({"true", "1"})
_FALSE: Final = frozenset({"false", "0"})


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _to_datetime(text: str, like: datetime) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    if like.tzinfo is not None and parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    if like.tzinfo is None and parsed.tzinfo is not None:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _type_name(like: object) -> str:
    if isinstance(like, bool):
        return "a boolean (true or false)"
    if isinstance(like, int):
        return "an integer"
    if isinstance(like, float):
        return "a number"
    if isinstance(like, datetime):
        return "an ISO 8601 date-time"
    if isinstance(like, date):
        return "an ISO 8601 date"
    return "text"


def _coerce(value: Scalar, like: object) -> object:
    """``value`` as the type of ``like``; raises ValueError when it does not fit."""
    if isinstance(like, bool):
        return value if isinstance(value, bool) else _to_bool(_text(value))
    if isinstance(like, int | float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        text = _text(value).strip()
        return int(text) if isinstance(like, int) else float(text)
    if isinstance(like, datetime):
        return _to_datetime(_text(value), like)
    if isinstance(like, date):
        return date.fromisoformat(_text(value).strip())
    return value if isinstance(value, str) else _text(value)


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- evaluation -------------------------------------------------------------------------------

_COMPARE: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


@dataclass(frozen=True, slots=True, eq=False)
class Bound:
    """A definition with its parameters bound, ready to test rows."""

    definition: QueryDefinition
    parameters: Mapping[str, str]

    def resolve(self, term: Term, like: object, where: str) -> object:
        raw: Scalar = self.parameters[term.name] if isinstance(term, Param) else term
        try:
            return _coerce(raw, like)
        except (ValueError, OverflowError):
            if isinstance(term, Param):
                raise ParameterError(term.name, f"must be {_type_name(like)}") from None
            raise QueryExecutionError(f"{where}: {raw!r} is not {_type_name(like)}") from None

    def matches(self, row: Mapping[str, object]) -> bool:
        for index, f in enumerate(self.definition.filters):
            actual = row.get(f.field)
            if actual is None or not self._test(f, actual, f"filters[{index}]"):
                return False
        return True

    def _test(self, f: Filter, actual: object, where: str) -> bool:
        try:
            if f.op == "in":
                terms = f.value if isinstance(f.value, tuple) else (f.value,)
                return any(actual == self.resolve(t, actual, where) for t in terms)
            term = f.value
            if isinstance(term, tuple):  # only "in" holds a tuple; validation guarantees it
                return False
            if f.op == "contains":
                return self._contains(term, actual, where)
            return _COMPARE[f.op](actual, self.resolve(term, actual, where))
        except TypeError:
            # Values of types that do not order (e.g. a nested object): no match.
            return False

    def _contains(self, term: Term, actual: object, where: str) -> bool:
        if isinstance(actual, list | tuple | set | frozenset):
            return any(item == self.resolve(term, item, where) for item in actual)
        needle = self.resolve(term, "", where)
        return str(needle).casefold() in str(actual).casefold()


def _sort_rank(value: object) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp())
    if isinstance(value, date):
        return (3, value.toordinal())
    if isinstance(value, bool):
        return (4, value)
    return (5, json.dumps(value, sort_keys=True, default=str))


def _by(field: str) -> Callable[[Mapping[str, object]], tuple[int, Any]]:
    return lambda row: _sort_rank(row[field])


def _sorted(
    rows: list[Mapping[str, object]], keys: Sequence[SortKey]
) -> list[Mapping[str, object]]:
    for key in reversed(keys):  # stable sorts, least significant key first
        present = [r for r in rows if r.get(key.field) is not None]
        missing = [r for r in rows if r.get(key.field) is None]
        present.sort(key=_by(key.field), reverse=key.desc)
        rows = present + missing
    return rows


# -- rendering of the executed query ----------------------------------------------------------

_SYMBOLS: Final = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_NUMBER: Final = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")


def _show(term: Term, parameters: Mapping[str, str]) -> str:
    if isinstance(term, Param):
        text = parameters[term.name]
        if _NUMBER.fullmatch(text) or text in ("true", "false"):
            return text
        return json.dumps(text, ensure_ascii=False)
    if isinstance(term, bool):
        return "true" if term else "false"
    if isinstance(term, str):
        return json.dumps(term, ensure_ascii=False)
    return repr(term)


def _render(definition: QueryDefinition, parameters: Mapping[str, str]) -> str:
    """An NQL-like one-line text of the selection with parameters substituted."""
    stages: list[str] = [definition.object]
    conditions = []
    for f in definition.filters:
        if isinstance(f.value, tuple):
            listed = ", ".join(_show(t, parameters) for t in f.value)
            conditions.append(f"{f.field} in [{listed}]")
        else:
            symbol = _SYMBOLS.get(f.op, f.op)
            conditions.append(f"{f.field} {symbol} {_show(f.value, parameters)}")
    if conditions:
        stages.append("where " + " and ".join(conditions))
    stages.append("list " + ", ".join(definition.columns))
    if definition.sort:
        order = ", ".join(f"{s.field} {'desc' if s.desc else 'asc'}" for s in definition.sort)
        stages.append("sort " + order)
    if definition.limit is not None:
        stages.append(f"limit {definition.limit}")
    return " | ".join(stages)


# -- entry point ------------------------------------------------------------------------------


def execute(
    definition: QueryDefinition | Mapping[str, object],
    parameters: Mapping[str, str],
    rows: Iterable[Mapping[str, object]],
    *,
    max_rows: int | None = None,
) -> Result:
    """Run a saved query over ``rows`` (mappings of field name to value).

    ``parameters`` are the caller's, without ``$``; one the query needs and lacks raises
    :class:`ParameterError` before any row is read. ``max_rows`` caps the answer on top of the
    query's own ``limit`` and sets :attr:`Result.truncated` when it cut rows off.
    """
    query, bound = bind(definition, parameters)
    selected: Iterable[Mapping[str, object]] = (r for r in rows if bound.matches(r))
    if query.sort:
        selected = _sorted(list(selected), query.sort)
    if query.limit is not None:
        selected = islice(selected, query.limit)
    truncated = False
    if max_rows is not None:
        capped = list(islice(selected, max_rows + 1))
        truncated = len(capped) > max_rows
        selected = capped[:max_rows]
    out = [[row.get(c) for c in query.columns] for row in selected]
    return Result(query.id, _render(query, parameters), query.columns, out, truncated)


def bind(
    definition: QueryDefinition | Mapping[str, object], parameters: Mapping[str, str]
) -> tuple[QueryDefinition, Bound]:
    """The validated definition and its bound parameters; a missing one is a
    :class:`ParameterError` naming it (and the others missing)."""
    query = validate_query_definition(definition)
    missing = sorted(query.parameter_names - parameters.keys())
    if missing:
        raise ParameterError(missing[0], "is required by the query" + _others(missing))
    return query, Bound(query, parameters)


def executed_text(query: QueryDefinition, parameters: Mapping[str, str]) -> str:
    """The one-line text of the query as it ran, parameters substituted."""
    return _render(query, parameters)


def _others(missing: Sequence[str]) -> str:
    if len(missing) == 1:
        return ""
    return " (also missing: " + ", ".join(missing[1:]) + ")"
