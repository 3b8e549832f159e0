"""Data exporters and the webhook delivery log page by keyset cursor: REST, pages and CLI."""

from __future__ import annotations

import datetime as dt
import re

from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.container import Container
from credgate.core.paging import PageRequest
from credgate.outbound.models import Exporter, Webhook, WebhookDelivery
from support import cli_env, paging

EXPORTERS = ["alpha", "bravo", "charlie", "delta", "echo", "fox_trot", "golf"]
ROW = r"<tr data-id="
T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def _exporters(container: Container, names: list[str] = EXPORTERS) -> None:
    with container.db.session() as session:
        for index, name in enumerate(reversed(names)):  # out of order: the list sorts by name
            session.add(
                Exporter(
                    id=f"00000000-0000-4000-8000-{index:012d}",
                    name=name,
                    query_id="#all_devices",
                    format="jsonl",
                    credential_id="c-1",
                    destination={"directory": "/", "file_pattern": "{name}.{ext}"},
                    schedule="daily",
                )
            )


def _deliveries(container: Container, count: int = 7) -> list[str]:
    """``count`` deliveries, newest last; two share each queued time, so the id breaks ties.
    Answers their ids newest first, the order of the log."""
    with container.db.session() as session:
        for hook in ("hook-a", "hook-b"):
            session.add(
                Webhook(
                    id=f"{hook}-id",
                    name=hook,
                    credential_id="c-1",
                    method="POST",
                    resource="/hook",
                )
            )
        session.flush()
        ids = []
        for index in range(count):
            at = T0 + dt.timedelta(minutes=index // 2)
            ids.append(f"msg_{index:02d}")
            session.add(
                WebhookDelivery(
                    id=ids[-1],
                    webhook_id="hook-b-id" if index == 3 else "hook-a-id",
                    event_type="device.update" if index == 4 else "explicit",
                    data={},
                    state="failed" if index % 2 else "delivered",
                    next_attempt_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
    return sorted(ids, key=lambda i: (T0 + dt.timedelta(minutes=int(i[4:]) // 2), i))[::-1]


def test_exporters_page_by_name_and_search(container: Container) -> None:
    service = container.outbound.exporters
    _exporters(container)
    first = service.page(PageRequest(limit=3))
    assert [e["name"] for e in first.items] == ["alpha", "bravo", "charlie"]
    assert first.total == 7
    second = service.page(PageRequest(limit=3, cursor=first.next_cursor))
    assert [e["name"] for e in second.items] == ["delta", "echo", "fox_trot"]
    last = service.page(PageRequest(limit=3, cursor=second.next_cursor))
    assert [e["name"] for e in last.items] == ["golf"]
    assert last.next_cursor is None
    assert [e["name"] for e in service.page(PageRequest(q="_")).items] == ["fox_trot"]
    by_id = service.page(PageRequest(q="000000000006")).items
    assert [e["name"] for e in by_id] == ["alpha"]


def test_deliveries_page_newest_first_through_equal_times(container: Container) -> None:
    webhooks = container.outbound.webhooks
    newest_first = _deliveries(container)
    seen: list[str] = []
    wanted = PageRequest(limit=2)
    while True:
        page = webhooks.deliveries_page(wanted)
        assert page.total == 7
        seen += [d["id"] for d in page.items]
        if page.next_cursor is None:
            break
        wanted = wanted.after(page.next_cursor)
    assert seen == newest_first
    failed = webhooks.deliveries_page(PageRequest(), state="failed")
    assert {d["state"] for d in failed.items} == {"failed"}
    assert failed.total == 3
    assert [d["id"] for d in webhooks.deliveries_page(PageRequest(), webhook="hook-b").items] == [
        "msg_03"
    ]
    found = webhooks.deliveries_page(PageRequest(q="DEVICE.UP"))
    assert [d["id"] for d in found.items] == ["msg_04"]


def test_rest_lists_follow_next_links(admin_client: TestClient, container: Container) -> None:
    _exporters(container)
    newest_first = _deliveries(container)
    for url, key, expected in [
        ("/admin/api/v1/exporters?limit=3", "name", EXPORTERS),
        ("/admin/api/v1/deliveries?limit=3", "id", newest_first),
    ]:
        assert paging.rest_list(admin_client, url, key, limit=3, total=7) == expected
    # A filter stays on the next link.
    first = admin_client.get("/admin/api/v1/deliveries?state=failed&limit=2").json()
    assert "state=failed" in first["next"]
    rest = admin_client.get(first["next"]).json()
    assert [d["id"] for d in first["items"] + rest["items"]] == ["msg_05", "msg_03", "msg_01"]
    found = admin_client.get("/admin/api/v1/exporters", params={"q": "golf"}).json()
    assert [e["name"] for e in found["items"]] == ["golf"]
    unknown = admin_client.get("/admin/api/v1/deliveries", params={"webhook": "no such hook"})
    assert unknown.status_code == 404


def test_rest_lists_reject_bad_paging(admin_client: TestClient) -> None:
    for path in ("exporters", "deliveries"):
        paging.assert_rest_rejects(admin_client, f"/admin/api/v1/{path}")


def test_a_forged_cursor_of_the_wrong_shape_is_422(admin_client: TestClient) -> None:
    # A cursor of another list (one name, where the log wants a time and an id).
    exporters_cursor = "WyJhbHBoYSJd"
    paging.assert_rest_rejects(
        admin_client, "/admin/api/v1/deliveries", [(f"cursor={exporters_cursor}", "cursor")]
    )


def test_pages_show_the_pager_and_keep_the_filter(ui: TestClient, container: Container) -> None:
    _exporters(container)
    _deliveries(container)
    second = paging.console_next_page(
        ui, "/admin/exporters?limit=3", shown=3, total=7, row=ROW, moved=(">alpha<", ">delta<")
    )
    assert 'rel="first"' in second.text
    paging.console_search(ui, "/admin/exporters?q=echo", ROW)
    paging.console_rejects(ui, "/admin/exporters?limit=many", "Limit")

    log = ui.get("/admin/deliveries?webhook=hook-a&limit=2")
    assert log.status_code == 200
    assert "Showing 2 of 6" in log.text
    following = re.search(r'rel="next" href="([^"]+)"', log.text)
    assert following
    assert "webhook=hook-a" in following.group(1)
    assert 'type="hidden" name="webhook" value="hook-a"' in log.text
    second = ui.get(following.group(1).replace("&amp;", "&"))
    assert "Showing 2 of 6" in second.text
    assert "msg_04" in second.text
    assert "msg_06" not in second.text


def test_cli_lists_page_and_stream(container: Container) -> None:
    _exporters(container)
    newest_first = _deliveries(container)
    env = cli_env(container)
    runner = CliRunner()
    paging.cli_second_page(
        runner, ["exporters", "list"], env, "2 of 7 exporter(s)", last="bravo", then="charlie"
    )
    every = paging.cli_list_json(runner, ["deliveries", "list"], env)
    assert [row["id"] for row in every] == newest_first
    failed = ["deliveries", "list", "--state", "failed", "--limit", "1"]
    paging.cli_first_page(runner, failed, env, "1 of 3 delivery(ies)")
    paging.assert_cli_rejects_limit(runner, ["deliveries", "list"], "0", env)
