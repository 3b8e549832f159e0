"""Checks that every paged list shares, in REST, on the console and in the CLI: the lists differ
in what they hold, not in how they page, so the way through them is checked once, here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from credgate.cli import app as cli_app
from support import next_console_page

#: What every REST list refuses, and the field its error names.
BAD_PAGING = [
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("limit=501", "limit"),
    ("cursor=%25", "cursor"),
]
#: What every CLI list says of a ``--limit`` out of range.
CLI_LIMIT_ERROR = "limit: must be between 1 and 500"


def rest_list(
    client: TestClient,
    url: str,
    key: str,
    *,
    limit: int,
    total: int | None = None,
    hidden: str | None = None,
) -> list[Any]:
    """``key`` of every item of a REST list, following its ``next`` links from ``url``.

    Every page answers 200 with ``limit`` (and ``total``, when given), a ``next`` link exactly
    when it has a ``next_cursor``, and no item that shows ``hidden`` (a secret).
    """
    seen: list[Any] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["limit"] == limit
        if total is not None:
            assert body["total"] == total
        if hidden is not None:
            assert all(hidden not in json.dumps(item) for item in body["items"])
        seen += [item[key] for item in body["items"]]
        next_url = body["next"]
        assert (next_url is None) == (body["next_cursor"] is None)
    return seen


def assert_rest_rejects(
    client: TestClient, url: str, cases: Iterable[tuple[str, str]] = BAD_PAGING
) -> None:
    """Each ``(query, field)`` of ``cases`` on ``url`` is a 422 that names ``field`` alone."""
    for query, field in cases:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 422, (url, query)
        assert [e["field"] for e in response.json()["errors"]] == [field]


def console_next_page(
    client: TestClient,
    url: str,
    *,
    shown: int,
    total: int,
    row: str | None = None,
    moved: tuple[str, str] | None = None,
) -> Any:
    """The page after a console list's first one at ``url``, which shows ``shown`` rows (each
    opens with the pattern ``row``, when given) of ``total``. ``moved``, when given, is text of
    the first page's first row and of the next page's, which shows the one and not the other."""
    page = client.get(url)
    assert page.status_code == 200
    if row is not None:
        assert len(re.findall(row, page.text)) == shown
    assert f"Showing {shown} of {total}" in page.text
    following = next_console_page(client, page)
    if moved is not None:
        first, then = moved
        assert then in following.text
        assert first not in following.text
    return following


def console_search(client: TestClient, url: str, row: str) -> Any:
    """The console list at ``url`` (a search that one row matches) shows that row alone."""
    found = client.get(url)
    assert len(re.findall(row, found.text)) == 1
    return found


def console_rejects(client: TestClient, url: str, label: str) -> Any:
    """The console list at ``url`` (bad paging) answers 422 with the error's field ``label``."""
    bad = client.get(url)
    assert bad.status_code == 422
    assert label in bad.text
    return bad


def cli_first_page(
    runner: CliRunner, args: list[str], env: Any, summary: str
) -> tuple[Result, str]:
    """A CLI list's first page (``args`` and its options) and the ``--cursor`` it offers for
    the next one, on standard error; its standard output counts ``summary``."""
    page = runner.invoke(cli_app, args, env=env)
    assert page.exit_code == 0, page.output
    assert summary in page.stdout
    cursor = re.search(r"--cursor (\S+)", page.stderr)
    assert cursor
    return page, cursor.group(1)


def cli_second_page(
    runner: CliRunner, args: list[str], env: Any, summary: str, *, last: str, then: str
) -> str:
    """The standard output of the page that a CLI list's first page (``args`` with ``--limit
    2``, which counts ``summary``) leads to with its ``--cursor``. The first page shows
    ``last`` and not ``then``; the second shows ``then``."""
    first = [*args, "--limit", "2"]
    page, cursor = cli_first_page(runner, first, env, summary)
    assert last in page.stdout
    assert then not in page.stdout
    more = runner.invoke(cli_app, [*first, "--cursor", cursor], env=env)
    assert more.exit_code == 0, more.output
    assert then in more.stdout
    return more.stdout


def cli_list_json(runner: CliRunner, args: list[str], env: Any) -> Any:
    """What a CLI list prints with ``--all --json``: every page, streamed."""
    every = runner.invoke(cli_app, [*args, "--all", "--json"], env=env)
    assert every.exit_code == 0, every.output
    return json.loads(every.stdout)


def assert_cli_rejects_limit(runner: CliRunner, args: list[str], limit: str, env: Any) -> None:
    """``--limit`` out of range is a usage error (exit 2) that says the range."""
    bad = runner.invoke(cli_app, [*args, "--limit", limit], env=env)
    assert bad.exit_code == 2
    assert CLI_LIMIT_ERROR in bad.stderr
