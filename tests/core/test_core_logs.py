"""Logs: lines for people on a terminal, JSON for a collector, never uvicorn's ANSI copy."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from credgate.core.logs import JsonFormatter, configure_logging, resolve_format

SRC = str(Path(__file__).resolve().parents[2] / "src")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_text_on_a_terminal_and_json_otherwise() -> None:
    assert resolve_format("auto", _Terminal()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", _Terminal()) == "json"
    assert resolve_format("text", io.StringIO()) == "text"


def test_json_has_no_color_message() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started %s", ("x",), None)
    record.color_message = "Started \x1b[1m%s\x1b[0m"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "Started x"
    assert "color_message" not in entry
    assert "\x1b" not in json.dumps(entry)


def _log_line(fmt: str | None, terminal: bool) -> str:
    """One record logged by a fresh process whose standard error is a pty or a pipe."""
    code = (
        "import logging, os; from credgate.core.logs import configure_logging;"
        "configure_logging('INFO', os.environ.get('CREDGATE_LOG_FORMAT', 'auto'));"
        "logging.getLogger('credgate.test').info('hello %s', 'there')"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("CREDGATE_LOG_FORMAT", None)
    if fmt is not None:
        env["CREDGATE_LOG_FORMAT"] = fmt
    if not terminal:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return done.stderr.strip()
    leader, follower = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", code], env=env, stderr=follower, check=True)
        return os.read(leader, 4096).decode().strip()
    finally:
        os.close(leader)
        os.close(follower)


@pytest.mark.parametrize(
    ("fmt", "terminal", "as_json"),
    [(None, True, False), (None, False, True), ("json", True, True), ("text", False, False)],
)
def test_the_format_follows_the_terminal_unless_configured(
    fmt: str | None, terminal: bool, as_json: bool
) -> None:
    line = _log_line(fmt, terminal)
    if as_json:
        assert json.loads(line)["msg"] == "hello there"
    else:
        assert line.endswith("INFO    credgate.test: hello there")


def test_configure_logging_defaults_to_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    configure_logging("INFO")
    try:
        handler = logging.getLogger().handlers[0]
        assert not isinstance(handler.formatter, JsonFormatter)
    finally:
        logging.getLogger().handlers[:] = []
