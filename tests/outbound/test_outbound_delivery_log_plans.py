"""The delivery log filtered to one webhook pages off an index in its order: the database reads
the first page, and a deep one by cursor, without sorting the webhook's rows (SQLite's EXPLAIN
QUERY PLAN, PostgreSQL's EXPLAIN).

A filter on the state alone has no index of its own: one more index to write on every delivery
and every outcome cost the worker 3-4% of its rate (bench/webhooks.py), while sorting the rows
in one state (10,000 failed of 100,000) took about 10 ms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event, insert, text

from credgate.container import Container
from credgate.core.paging import PageRequest
from credgate.outbound.models import Webhook, WebhookDelivery

T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
ROWS = 4000
# One webhook that few deliveries have: without an index in the log's order, the planners take
# the webhook's own index and sort what it finds, rather than walk the log.
RARE = 40


def _seed(container: Container) -> None:
    hooks = ["common", "rare"]
    with container.db.session() as session:
        session.add_all(
            Webhook(id=f"{h}-id", name=h, credential_id="c-1", method="POST", resource="/")
            for h in hooks
        )
        session.flush()
        rows: list[dict[str, Any]] = []
        for n in range(ROWS):
            at = T0 + dt.timedelta(seconds=n // 2)  # two to a second: the id breaks the tie
            rows.append(
                {
                    "id": f"msg_{n:06d}",
                    "webhook_id": "rare-id" if n % RARE == 0 else "common-id",
                    "event_type": "explicit",
                    "data": {},
                    "state": "failed" if n % RARE == 1 else "delivered",
                    "attempts": 1,
                    "next_attempt_at": at,
                    "last_error": "",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        session.execute(insert(WebhookDelivery), rows)
    if container.db.is_postgresql:
        with container.db.engine.begin() as conn:
            conn.execute(text("ANALYZE webhook_deliveries"))


@contextmanager
def _page_statements(container: Container) -> Iterator[list[tuple[str, Any]]]:
    """The statements that read a page's rows (not its count), as sent to the database."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ORDER BY" in statement and "webhook_deliveries" in statement:
            seen.append((statement, parameters))

    event.listen(container.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(container.db.engine, "before_cursor_execute", record)


def _pages(container: Container, filters: dict[str, str]) -> list[tuple[str, Any]]:
    """The first page of the filtered log and the one 80 rows down by cursor, as statements;
    checks on the way that they answer the filtered rows newest first."""
    webhooks = container.outbound.webhooks
    with _page_statements(container) as seen:
        first = webhooks.deliveries_page(PageRequest(limit=20), **filters)
        request = PageRequest(limit=20, cursor=first.next_cursor)
        for _ in range(3):
            page = webhooks.deliveries_page(request, **filters)
            request = request.after(page.next_cursor)
        deep = webhooks.deliveries_page(request, **filters)
    assert first.total == ROWS // RARE
    keys = [(d["created_at"], d["id"]) for d in first.items + deep.items]
    assert keys == sorted(keys, reverse=True)
    assert len(deep.items) == 20
    return [seen[0], seen[-1]]


def _sorts(conn: Connection, statement: str, parameters: Any) -> list[str]:
    """The sorts in the statement's plan: SQLite's temporary b-trees, PostgreSQL's Sort nodes."""
    if conn.dialect.name == "sqlite":
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return [str(row[-1]) for row in plan if "TEMP B-TREE" in str(row[-1])]
    (plan,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).one()

    def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    return [n["Node Type"] for n in nodes(plan[0]["Plan"]) if "Sort" in n["Node Type"]]


# The webhook with the state as well is left to the planner: given a rare state, PostgreSQL
# rightly reads that state's rows and sorts the few it finds.
FILTERS = [{"webhook": "rare"}]


def test_filtered_log_pages_read_an_index_in_order(container: Container) -> None:
    _seed(container)
    statements = [s for filters in FILTERS for s in _pages(container, filters)]
    with container.db.engine.connect() as conn:
        for statement, parameters in statements:
            assert _sorts(conn, statement, parameters) == [], statement


def test_without_the_index_the_same_pages_sort(container: Container) -> None:
    """The schema before the filtered log had its index: the check above would catch it."""
    _seed(container)
    statements = _pages(container, FILTERS[0])
    with container.db.engine.connect() as conn, conn.begin() as transaction:
        conn.execute(text("DROP INDEX ix_webhook_deliveries_webhook_log"))
        conn.execute(
            text("CREATE INDEX ix_webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id)")
        )
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE webhook_deliveries"))
        for statement, parameters in statements:
            assert _sorts(conn, statement, parameters) != [], statement
        transaction.rollback()
