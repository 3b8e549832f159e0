"""List commands over one service: the standard paging options, and a list's own filters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from credgate.core import cli as core_cli
from credgate.core.cli_lists import as_dict, filtered_list_command, service_list_command
from credgate.core.paging import Page, PageRequest
from credgate.core.services import Services


@dataclass(frozen=True)
class Fruit:
    name: str
    colour: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Basket:
    fruits = (Fruit("apple", "red"), Fruit("banana", "yellow"), Fruit("cherry", "red"))

    def page(self, request: PageRequest, colour: str | None = None) -> Page[Fruit]:
        shown = [f for f in self.fruits if request.q in f.name and colour in (None, f.colour)]
        return Page(shown[: request.limit], len(shown), None, request.limit)


def _basket() -> type[Basket]:
    return Basket


if TYPE_CHECKING:
    # A name for type checking alone, as a feature's service class is (to keep its imports
    # lazy): the command must not need it at run time.
    LazyBasket = Basket


fruits_app = typer.Typer()
service_list_command(
    fruits_app,
    _basket,
    lambda basket: basket.page,
    as_dict,
    [("name", "name"), ("colour", "colour")],
    noun="fruit(s)",
    help="List fruits.",
)

by_colour_app = typer.Typer()


@filtered_list_command(
    by_colour_app, _basket, as_dict, [("name", "name")], noun="fruit(s)", help="Fruits by colour."
)
def by_colour(
    basket: LazyBasket,
    colour: Annotated[str | None, typer.Argument(help="Only this colour.")] = None,
    ripe: Annotated[bool, typer.Option(help="Only ripe ones (all are).")] = True,
) -> Callable[[PageRequest], Page[Fruit]]:
    assert ripe
    return lambda wanted: basket.page(wanted, colour)


@pytest.fixture(autouse=True)
def opened(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def opener() -> Iterator[Services]:
        services = Services()
        services.provide(Basket, Basket())
        yield services

    monkeypatch.setattr(core_cli, "_opener", None)
    core_cli.set_services_opener(opener)


def test_a_service_list_pages_and_searches() -> None:
    result = CliRunner().invoke(fruits_app, ["--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "apple" in result.stdout
    assert "banana" in result.stdout
    assert "cherry" not in result.stdout
    assert "2 of 3 fruit(s)" in result.stdout
    result = CliRunner().invoke(fruits_app, ["-q", "an", "--json"])
    assert json.loads(result.stdout) == [{"name": "banana", "colour": "yellow"}]


def test_a_filtered_list_takes_its_filters_then_the_paging_options() -> None:
    result = CliRunner().invoke(by_colour_app, ["red", "--json"])
    assert result.exit_code == 0, result.output
    assert [f["name"] for f in json.loads(result.stdout)] == ["apple", "cherry"]
    result = CliRunner().invoke(by_colour_app, ["red", "--limit", "1", "--search", "ch"])
    assert "cherry" in result.stdout
    assert "apple" not in result.stdout
    usage = CliRunner().invoke(by_colour_app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "Fruits by colour." in usage
    options = re.findall(r"│ (--[\w-]+)", usage)
    assert options[:6] == ["--ripe", "--limit", "--all", "--search", "--cursor", "--json"]
