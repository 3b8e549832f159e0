"""What the browser tests share beyond the fixtures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
#: Screenshots are for a person to look at, and a full-page PNG costs more than the checks on
#: the page: taken when this variable is set (``CREDGATE_TEST_SCREENSHOTS=1 scripts/test tests/web``).
SCREENSHOTS = os.environ.get("CREDGATE_TEST_SCREENSHOTS", "") not in ("", "0")


def screenshot(tab: Any, name: str, *, full_page: bool = True) -> None:
    """``test-artifacts/screenshots/<name>.png``, when screenshots are asked for."""
    if not SCREENSHOTS:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def watch_errors(tab: Any) -> list[str]:
    """The list the page's script errors and CSP violations are collected in; a refused form
    (422) or a sign-in challenge (401) logs "Failed to load resource", which is expected."""
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return errors
