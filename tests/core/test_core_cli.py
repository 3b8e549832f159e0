"""Shared command helpers: feature commands get their services from whoever opened them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import typer
from typer.testing import CliRunner

from credgate.core import cli as core_cli
from credgate.core.cli import JsonOpt, emit, open_services, parse_duration
from credgate.core.errors import FieldError, InvalidInputError, NotFoundError
from credgate.core.services import Services


class Greeter:
    def __init__(self, word: str) -> None:
        self.word = word

    def greet(self, name: str) -> str:
        if not name:
            raise InvalidInputError([FieldError("name", "must not be empty")])
        if name == "nobody":
            raise NotFoundError("no such person 'nobody'")
        return f"{self.word}, {name}"


greeter_app = typer.Typer()


@greeter_app.command()
def greet(name: str, as_json: JsonOpt = False) -> None:
    with open_services() as services:
        said = services.get(Greeter).greet(name)
        emit({"said": said}, as_json, lambda d: typer.echo(d["said"]))


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Commands get a Greeter; the list records each opening and closing."""
    events: list[str] = []

    @contextmanager
    def opener() -> Iterator[Services]:
        services = Services()
        services.provide(Greeter, Greeter("hello"))
        events.append("open")
        try:
            yield services
        finally:
            events.append("close")

    monkeypatch.setattr(core_cli, "_opener", None)
    core_cli.set_services_opener(opener)
    return events


def test_a_command_gets_the_provided_service_for_its_own_length(opened: list[str]) -> None:
    result = CliRunner().invoke(greeter_app, ["ada"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello, ada\n"
    assert opened == ["open", "close"]
    result = CliRunner().invoke(greeter_app, ["ada", "--json"])
    assert result.stdout == '{\n  "said": "hello, ada"\n}\n'


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "error: name: must not be empty"), ("nobody", "error: no such person 'nobody'")],
)
def test_a_service_error_exits_2_naming_the_fault(
    opened: list[str], name: str, message: str
) -> None:
    result = CliRunner().invoke(greeter_app, [name])
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert opened == ["open", "close"]


def test_without_an_opener_a_command_says_it_is_not_wired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core_cli, "_opener", None)
    with pytest.raises(RuntimeError, match=r"credgate\.cli"), open_services():
        pass


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("90", 90), ("90s", 90), ("30m", 1800), (" 2 d ", 172800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "--overlap") == dt.timedelta(seconds=seconds)


def test_a_bad_duration_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        parse_duration("1w", "--overlap")
    assert exited.value.exit_code == 2
    assert "--overlap: '1w' is not a duration" in capsys.readouterr().err


def test_the_entry_point_opens_the_container_for_feature_commands() -> None:
    import credgate.cli
    import credgate.cli_installation

    assert credgate.cli.app is not None
    assert core_cli._opener is credgate.cli_installation.open_services
