"""The audit trail over the admin API, a page at a time: the body stays a list, the next page
is in the Link header."""

from __future__ import annotations

import base64
import json
import re

from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor

API = "/admin/api/v1"


def test_audit_events_page_through_link_headers(
    admin_client: TestClient, container: Container
) -> None:
    for n in range(5):
        container.api_credentials.create(
            name=f"audited {n}", permissions=["nql"], actor=Actor("auditor", "pytest")
        )
    ids: list[int] = []
    url: str | None = f"{API}/audit-events?limit=2&q=auditor"
    while url:
        answer = admin_client.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-total-count"] == "5"
        page = answer.json()
        assert isinstance(page, list)
        assert len(page) <= 2
        ids += [event["id"] for event in page]
        link = re.match(r'<([^>]+)>; rel="next"', answer.headers.get("link", ""))
        url = link.group(1) if link else None
    assert len(ids) == 5
    assert ids == sorted(ids, reverse=True), "newest first, no repeats across pages"
    assert admin_client.get(f"{API}/audit-events?cursor=@@").json()["errors"][0]["field"] == (
        "cursor"
    )


def test_a_forged_cursor_of_the_wrong_type_is_refused(admin_client: TestClient) -> None:
    forged = base64.urlsafe_b64encode(json.dumps(["not a number"]).encode()).decode()
    answer = admin_client.get(f"{API}/audit-events", params={"cursor": forged})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "cursor"
    names = admin_client.get(f"{API}/api-credentials", params={"cursor": forged})
    assert names.status_code == 200, "a string cursor fits a list ordered by name"
