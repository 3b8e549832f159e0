"""Saved NQL queries and inventory devices, set up as the platform tests need them, and the
refusals of the platform's request parsers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.platform.models import InventoryObject
from credgate.platform.schemas import RequestError

ACTOR = Actor("tests", "pytest")


def save_query(
    container: Container,
    query_id: str,
    columns: list[str],
    *,
    where: tuple[str, str, str] | None = None,
    sort: str | None = None,
) -> None:
    """A saved query ``query_id`` over devices that lists ``columns``, filtered by ``where``
    (field, operator, value: a ``$name`` is a parameter) and sorted by the field ``sort``."""
    definition: dict[str, Any] = {"id": query_id, "object": "devices"}
    if where is not None:
        field, op, value = where
        definition["filters"] = [{"field": field, "op": op, "value": value}]
    definition["columns"] = columns
    if sort is not None:
        definition["sort"] = [{"field": sort}]
    container.definitions.create("query", definition, actor=ACTOR)


def add_devices(container: Container, count: int) -> None:
    """Devices ``pc-0`` to ``pc-<count - 1>`` (uids ``d0``...): the odd ones on Linux, the even
    ones on BSD, ``pc-n`` with ``4 * n`` of ram."""
    with container.db.session() as session:
        for n in range(count):
            fields = {"os": "Linux" if n % 2 else "BSD", "ram": 4 * n}
            session.add(
                InventoryObject(object="device", uid=f"d{n}", name=f"pc-{n}", fields=fields)
            )


def refusal(parse: Callable[[Any], object], data: object) -> RequestError:
    """What ``parse`` (a family's request parser) raises for ``data``, which it must refuse."""
    with pytest.raises(RequestError) as info:
        parse(data)
    return info.value


def assert_invalid_unless(
    parse: Callable[[Any], object], data: object, message: str | None
) -> None:
    """``parse`` takes ``data`` when ``message`` is None; otherwise it refuses it with a 400
    ``INVALID_REQUEST`` that says ``message``."""
    if message is None:
        parse(data)
        return
    refused = refusal(parse, data)
    assert refused.status == 400
    assert refused.body == {"code": "INVALID_REQUEST", "message": message}
