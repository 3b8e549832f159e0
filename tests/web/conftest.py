"""Fixtures of the administration-page tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# ``backend``: SQLite unless a test asks for more; the audit-log query, which is the pages' own,
# is tested on both databases.
from support.fixtures import pages_backend  # noqa: F401 - a fixture

CHROMIUM = "/usr/bin/chromium"


# Module scope: the sync API keeps an event loop running in the main thread while it is open,
# which must not outlive these tests (others call asyncio.run).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import Error, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
        except Error as exc:
            pytest.skip(f"chromium cannot be launched here: {exc.message.splitlines()[0]}")
        yield chromium
        chromium.close()
