"""What the browser tests share beyond the fixtures."""

from __future__ import annotations

from typing import Any


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
