"""Fixtures of the administration-page tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for more: the pages add little database work of their own
    (the services under them are tested on both databases); the audit-log query, which is the
    pages' own, is tested on both."""
    return str(getattr(request, "param", "sqlite"))
