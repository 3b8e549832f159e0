"""Fixtures of the outbound tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webhooks_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A recording HTTPS receiver on 127.0.0.1 (see webhooks_receiver.py)."""
    with Receiver() as r:
        yield r
