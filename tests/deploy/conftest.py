"""PostgreSQL databases of their own for the deployment tests: created empty, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

PG_ADMIN_URL = os.environ.get(
    "CREDGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def fresh_pg() -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (SQLAlchemy URLs), dropped after the test."""
    admin = create_engine(
        PG_ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 3},
    )
    made: list[str] = []

    def make() -> str:
        name = f"credgate_deploy_{uuid.uuid4().hex[:12]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as exc:
            pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} does not answer ({type(exc).__name__})")
        made.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
