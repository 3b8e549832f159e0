"""``list`` commands that page through what a feature's service reads.

Both helpers give a command the standard paging options (``--limit``, ``--all``, ``--search``,
``--cursor``, ``--json``) and print with :func:`credgate.core.cli.emit_page`, so every list reads
and pages the same way. Both take the service's class from a function that imports it when the
command runs, so that listing the commands loads no feature.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar, Unpack

from credgate.core.cli import (
    PAGING_OPTIONS,
    Column,
    emit_page,
    list_command,
    open_services,
)

if TYPE_CHECKING:
    import typer

    from credgate.core.paging import Page, PageRequest

__all__ = ["Naming", "as_dict", "filtered_list_command", "service_list_command"]


class Naming(TypedDict):
    noun: str
    """What the rows are, counted under the table: ``token(s)``."""
    help: str
    """The command's help."""


class _View(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


S = TypeVar("S")
T = TypeVar("T")
V = TypeVar("V", bound=_View)


def as_dict(view: V) -> dict[str, Any]:
    """The shape of a view that knows its own wire form."""
    return view.as_dict()


def service_list_command(
    app: typer.Typer,
    service: Callable[[], type[S]],
    read: Callable[[S], Callable[[PageRequest], Page[T]]],
    shape: Callable[[T], dict[str, Any]],
    columns: Sequence[Column],
    **naming: Unpack[Naming],
) -> None:
    """Add a ``list`` command to ``app`` that pages through ``read(the service)``."""
    list_command(app, lambda services: read(services.get(service())), shape, columns, **naming)


def _filters(read: Callable[..., Any]) -> list[inspect.Parameter]:
    """``read``'s parameters after the service, their annotations evaluated as Typer needs them.

    Only these: the service's annotation and the return annotation may name types that the
    feature imports for type checking alone, to keep its imports lazy.
    """
    return [
        # What inspect.signature(eval_str=True) does, for these parameters alone.
        param.replace(annotation=eval(param.annotation, read.__globals__))  # noqa: S307
        if isinstance(param.annotation, str)
        else param
        for param in list(inspect.signature(read).parameters.values())[1:]
    ]


def filtered_list_command(
    app: typer.Typer,
    service: Callable[[], type[S]],
    shape: Callable[[Any], dict[str, Any]],
    columns: Sequence[Column],
    **naming: Unpack[Naming],
) -> Callable[[Callable[..., Callable[[PageRequest], Page[Any]]]], None]:
    """Decorate ``read(service, **filters)``, which answers the page reader for its filters,
    into a ``list`` command of ``app``: its options are the filters (arguments and options as
    ``read`` declares them) followed by the paging options."""

    def register(read: Callable[..., Callable[[PageRequest], Page[Any]]]) -> None:
        filters = _filters(read)

        def list_rows(**options: Any) -> None:
            paging = {param.name: options.pop(param.name) for param in PAGING_OPTIONS}
            with open_services() as services:
                emit_page(
                    read(services.get(service()), **options),
                    shape,
                    columns,
                    noun=naming["noun"],
                    **paging,
                )

        # Typer reads a command's options from its signature: the filters, then the paging.
        list_rows.__signature__ = inspect.Signature([*filters, *PAGING_OPTIONS])  # type: ignore[attr-defined]
        app.command("list", help=naming["help"])(list_rows)

    return register
