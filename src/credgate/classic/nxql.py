"""A parser of the NXQL subset credgate answers, translated to the NQL selection engine.

The supported grammar (S-expressions; symbols are case-sensitive, keywords are not)::

    query    = "(select" columns "(from" TABLE ")" where* order? limit? ")"
    columns  = FIELD | "(" FIELD+ ")"
    where    = "(where" TABLE cond+ ")"          ; several conditions, and several clauses, AND
    cond     = "(" OP FIELD value ")"
    OP       = eq | ne | lt | le | gt | ge
    value    = "(" TYPE literal ")" | "(pattern" STRING ")"
    TYPE     = string | integer | real | boolean | datetime | date | enumeration
    literal  = STRING | NUMBER | SYMBOL | %N        ; %N is the request parameter pN
    order    = "(order_by" FIELD ("asc" | "desc")? ")"
    limit    = "(limit" INTEGER ")"
    TABLE    = device | user | binary | package     ; -> devices, users, binaries, packages

``(pattern "*text*")`` is a case-insensitive substring test (NQL ``contains``); a pattern with
wildcards elsewhere is refused. Joins across tables (a ``where`` on another table) are refused
with a message naming the table. Example::

    (select (name os_version) (from device)
      (where device (eq name (string %1)) (ge ram_gb (integer 8)))
      (order_by ram_gb desc) (limit 10))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from credgate.platform.interfaces import (
    SINGULAR,
    ObjectName,
    QueryDefinition,
    validate_query_definition,
)

__all__ = ["MAX_DEPTH", "TABLES", "NxqlQuery", "NxqlSyntaxError", "parse_nxql"]

TABLES: Final[Mapping[str, ObjectName]] = {table: obj for obj, table in SINGULAR.items()}
_OPS: Final = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
_TYPES: Final = frozenset(
    {"string", "integer", "real", "boolean", "datetime", "date", "enumeration"}
)
_FIELD: Final = re.compile(r"^[A-Za-z_#][A-Za-z0-9_#]*(\.[A-Za-z_#][A-Za-z0-9_#]*)*$")
_PARAM: Final = re.compile(r"^%([1-9][0-9]{0,2})$")
_TOKEN: Final = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))', re.S)
MAX_QUERY: Final = 20_000
MAX_DEPTH: Final = 16
"""Deepest nesting of parentheses accepted. The grammar needs 4 (select, where, condition,
typed value); a limit keeps every later step, which walks the tree, bounded."""


class NxqlSyntaxError(ValueError):
    """The query is not in the supported subset; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _Str:
    text: str


Node = _Str | str | list[Any]


@dataclass(frozen=True, slots=True)
class NxqlQuery:
    """A parsed query: the NQL definition to run, and the NXQL table it names."""

    table: str
    definition: QueryDefinition

    @property
    def parameter_names(self) -> frozenset[str]:
        return self.definition.parameter_names


def _tokens(text: str) -> list[Node | None]:
    """Tokens: "(" as None-marker lists are built by :func:`_tree`; strings as :class:`_Str`."""
    out: list[Node | None] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise NxqlSyntaxError(f"query: unexpected character at offset {pos}")
        opened, closed, string, symbol = match.groups()
        if opened:
            out.append("(")
        elif closed:
            out.append(")")
        elif string is not None:
            out.append(_Str(re.sub(r"\\(.)", r"\1", string)))
        else:
            out.append(symbol)
        pos = match.end()
    return out


def _tree(tokens: list[Node | None]) -> list[Any]:
    stack: list[list[Any]] = [[]]
    for token in tokens:
        if token == "(":
            if len(stack) > MAX_DEPTH:
                raise NxqlSyntaxError(f"query: nested deeper than {MAX_DEPTH} levels")
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise NxqlSyntaxError("query: unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise NxqlSyntaxError("query: a '(' is not closed")
    return stack[0]


def _keyword(node: Any) -> str | None:
    if isinstance(node, list) and node and isinstance(node[0], str):
        return node[0].lower()
    return None


def _field(node: Any, where: str) -> str:
    if not isinstance(node, str) or not _FIELD.match(node):
        raise NxqlSyntaxError(f"{where}: {_show(node)} is not a field name")
    return node


def _show(node: Any) -> str:
    if isinstance(node, _Str):
        return f'"{node.text}"'
    if isinstance(node, list):
        return "(" + " ".join(_show(n) for n in node) + ")"
    return str(node)


def _table(node: Any, where: str) -> ObjectName:
    if not isinstance(node, str) or node.lower() not in TABLES:
        raise NxqlSyntaxError(
            f"{where}: {_show(node)} is not a table; use one of {', '.join(TABLES)}"
        )
    return TABLES[node.lower()]


def _literal(type_name: str, node: Any, where: str) -> object:
    if isinstance(node, str) and _PARAM.match(node):
        return f"$p{_PARAM.match(node).group(1)}"  # type: ignore[union-attr]
    text = node.text if isinstance(node, _Str) else node
    if not isinstance(text, str):
        raise NxqlSyntaxError(f"{where}: {_show(node)} is not a literal")
    try:
        if type_name == "integer":
            return int(text)
        if type_name == "real":
            return float(text)
        if type_name == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except ValueError:
        raise NxqlSyntaxError(f"{where}: {text!r} is not a valid {type_name}") from None
    # Text, dates and enumerations stay text: the engine coerces to the row value's type.
    return "$" + text if text.startswith("$") else text


def _condition(node: Any, where: str) -> dict[str, object]:
    if not isinstance(node, list) or len(node) != 3 or _keyword(node) not in _OPS:
        raise NxqlSyntaxError(
            f"{where}: {_show(node)} is not a condition; write (OP field (type value)) with OP "
            f"one of {', '.join(sorted(_OPS))}"
        )
    op = str(_keyword(node))
    field = _field(node[1], where)
    value = node[2]
    kind = _keyword(value)
    if kind == "pattern" and len(value) == 2:
        pattern = value[1].text if isinstance(value[1], _Str) else value[1]
        if not isinstance(pattern, str) or op not in ("eq", "ne"):
            raise NxqlSyntaxError(f"{where}: pattern works with eq only")
        inner = pattern.strip("*")
        if "*" in inner or "?" in inner or op == "ne":
            raise NxqlSyntaxError(
                f'{where}: only patterns of the form "*text*" are supported, with eq'
            )
        if pattern.startswith("*") and pattern.endswith("*") and len(pattern) >= 2:
            return {"field": field, "op": "contains", "value": inner}
        return {"field": field, "op": "eq", "value": pattern}
    if kind not in _TYPES or len(value) != 2:
        raise NxqlSyntaxError(
            f"{where}: {_show(value)} is not a typed value; write (TYPE value) with TYPE one of "
            f"{', '.join(sorted(_TYPES))}"
        )
    return {"field": field, "op": op, "value": _literal(str(kind), value[1], where)}


def parse_nxql(text: str) -> NxqlQuery:
    """Parse ``text`` into an NQL definition; raises :class:`NxqlSyntaxError` naming the fault."""
    if len(text) > MAX_QUERY:
        raise NxqlSyntaxError(f"query: longer than {MAX_QUERY} characters")
    forms = _tree(_tokens(text))
    if len(forms) != 1 or _keyword(forms[0]) != "select":
        raise NxqlSyntaxError("query: must be one (select ...) expression")
    select = forms[0]
    if len(select) < 3:
        raise NxqlSyntaxError("query: (select columns (from table) ...) is incomplete")
    raw_columns = select[1]
    names = raw_columns if isinstance(raw_columns, list) else [raw_columns]
    if not names:
        raise NxqlSyntaxError("select: name at least one field")
    columns = list(dict.fromkeys(_field(c, "select") for c in names))
    source = select[2]
    if _keyword(source) != "from" or len(source) != 2:
        raise NxqlSyntaxError("from: the second element must be (from table)")
    table_name = str(source[1]).lower()
    obj = _table(source[1], "from")
    filters: list[dict[str, object]] = []
    sort: list[dict[str, object]] = []
    limit: int | None = None
    for clause in select[3:]:
        kind = _keyword(clause)
        if kind == "where":
            if len(clause) < 3:
                raise NxqlSyntaxError("where: write (where table condition ...)")
            if _table(clause[1], "where") != obj:
                raise NxqlSyntaxError(
                    f"where: conditions on {_show(clause[1])} need a join, which is not supported"
                )
            filters.extend(_condition(c, "where") for c in clause[2:])
        elif kind == "order_by":
            if len(clause) not in (2, 3):
                raise NxqlSyntaxError("order_by: write (order_by field [asc|desc])")
            direction = str(clause[2]).lower() if len(clause) == 3 else "asc"
            if direction not in ("asc", "desc"):
                raise NxqlSyntaxError(f"order_by: {direction!r} is not asc or desc")
            sort.append({"field": _field(clause[1], "order_by"), "desc": direction == "desc"})
        elif kind == "limit":
            if len(clause) != 2 or not isinstance(clause[1], str) or not clause[1].isdigit():
                raise NxqlSyntaxError("limit: write (limit N) with N a positive integer")
            limit = int(clause[1])
            if not 1 <= limit <= 1_000_000:
                raise NxqlSyntaxError("limit: must be between 1 and 1000000")
        else:
            raise NxqlSyntaxError(
                f"query: {_show(clause)[:60]} is not supported; use where, order_by or limit"
            )
    definition = validate_query_definition(
        {
            "id": "#nxql",
            "object": obj,
            "filters": filters,
            "columns": columns,
            "sort": sort,
            "limit": limit,
        }
    )
    return NxqlQuery(table=table_name, definition=definition)
