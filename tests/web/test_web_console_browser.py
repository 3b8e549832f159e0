"""The whole console in a real headless Chromium against a real server: every page at 1280 and
1920 px with each row action inside the viewport, the lists at 700 px wrapped rather than
scrolled, an axe-core scan of each page, Connect through a consent round-trip at a local Authlib
authorization server, whole-form validation, exporter editing, and the one-time secret that asks
before it is discarded.

With ``CREDGATE_TEST_SCREENSHOTS=1``, screenshots go to ``test-artifacts/screenshots/console-*.png``
for a person to look at.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from browser_support import screenshot, watch_errors

from credgate.core.audit.services import Actor
from credgate.outbound.models import DeliveryAttempt
from support.fixtures import tls_provider  # noqa: F401 - a fixture
from support.platform_data import save_query

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connectors"))
from outbound_peers import (
    ProviderState,
    Tls,
    consent_credential,
    make_tls,
)

pytestmark = pytest.mark.slow

ACTOR = Actor("tests", "pytest")
PASSWORD = "correct horse battery staple"
CLASSIC_PASSWORD = "classic editor pass 1234"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WIDTHS = (1280, 1920)
HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7"
    "opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
)
# Long, unbroken values: what used to push the row actions past the right edge.
LONG_URL = "https://very-long-tenant-name-for-testing-the-layout.service-now.example.com/"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def live_settings_overrides(tls: Tls) -> dict[str, Any]:
    return {"outbound_ca_bundle": tls.ca_bundle, "worker_in_serve": False}


def seed(container: Any, provider: tuple[ProviderState, str]) -> dict[str, str]:
    """One of everything the console lists, with long names and addresses."""
    client_id = ""
    for name in ("ServiceNow production integration for incident tickets", "Okta"):
        created = container.api_credentials.create(
            name=name, permissions=["nql", "workflows"], actor=ACTOR, description="x" * 80
        )
        client_id = created.credential.client_id
    create = container.connector_credentials.create
    bearer = create(
        {
            "name": "Freshservice ticketing with a long descriptive name",
            "protocol": "HTTPS",
            "url": LONG_URL,
            "authorization": {"type": "BEARER", "token": "tok-console-1"},
        },
        actor=ACTOR,
    )
    sftp = create(
        {
            "name": "Nightly exports SFTP",
            "protocol": "SFTP",
            "url": "sftp://files-long-hostname-for-exports.example.com:22/",
            "authorization": {
                "type": "BASIC",
                "username": "exporter",
                "password": "sftp-pass",
                "host_key": HOST_KEY,
            },
        },
        actor=ACTOR,
    )
    consent = consent_credential(container, provider[1], provider[0], "CRM consent")
    webhooks = container.outbound.webhooks
    hook, _ = webhooks.create(
        {
            "name": "Incident tickets for every workflow execution in production",
            "credential": bearer.id,
            "resource": "/api/now/table/incident_with_a_rather_long_resource_path_name",
            "triggers": ["workflow_execution", "remote_action"],
        },
        actor=ACTOR,
    )
    delivery = webhooks.send(hook["id"], {"hello": "world"}, actor=ACTOR)
    webhooks.finish(
        delivery,
        state="failed",
        attempts=1,
        next_attempt_at=None,
        error="connection refused",
        attempt=DeliveryAttempt(status_code=None, duration_ms=12, error="connection refused"),
    )
    container.definitions.create("enrichment_field", {"id": "device/device/#os"}, actor=ACTOR)
    save_query(container, "#devices_by_os", ["name"], where=("#os", "eq", "$os"))
    exporter = container.outbound.exporters.create(
        {
            "name": "Linux devices every night to the exports server",
            "query_id": "#devices_by_os",
            "parameters": {"os": "linux"},
            "credential": sftp.id,
            "directory": "/exports/devices/linux/with/a/deep/directory/tree",
        },
        actor=ACTOR,
    )
    container.users.create_profile("analysts", data_privacy="none", finder_access=True, actor=ACTOR)
    container.users.create_user("analyst", CLASSIC_PASSWORD, profile="analysts", actor=ACTOR)
    return {
        "api": client_id,
        "connector": str(bearer.id),
        "consent": consent,
        "webhook": hook["id"],
        "delivery": delivery,
        "exporter": exporter["id"],
    }


def new_page(browser: Any, url: str, **options: Any) -> tuple[Any, list[str]]:
    context = browser.new_context(
        base_url=url, viewport={"width": WIDTHS[0], "height": 900}, **options
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors = watch_errors(tab)
    return tab, errors


def sign_in(tab: Any) -> None:
    tab.goto("/admin/login")
    tab.get_by_label("Username").fill("admin")
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/admin/api-credentials")


def shot(tab: Any, name: str) -> None:
    screenshot(tab, f"console-{name}")


def check_fits(tab: Any, width: int, name: str) -> None:
    """Nothing scrolls sideways, and every row action lies inside the viewport and inside its
    table's visible box."""
    assert tab.evaluate("document.documentElement.scrollWidth") <= width, name
    # Measured in one round trip: a page lists dozens of actions, and asking for each box
    # separately cost more than the rest of the page's checks.
    actions = tab.evaluate(
        """() => [...document.querySelectorAll(".actions-cell a, .actions-cell button")].map(el => {
            const box = el.getClientRects().length ? el.getBoundingClientRect() : null;
            const wrap = el.closest("div[class='table-wrap']");
            const frame = wrap && wrap.getClientRects().length ? wrap.getBoundingClientRect() : null;
            return {
                label: el.getAttribute("aria-label") || el.innerText,
                box: box && {x: box.x, width: box.width},
                frame: frame && {x: frame.x, width: frame.width},
            };
        })"""
    )
    for action in actions:
        box, frame, label = action["box"], action["frame"], action["label"]
        assert box is not None, (name, label)
        assert frame is not None, (name, label)
        assert box["x"] >= 0, (name, label, box)
        assert box["x"] + box["width"] <= width, (name, label, box)
        assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 0.5, (name, label)


def axe_violations(tab: Any) -> list[str]:
    """Serious and critical findings of axe-core on the page as shown. Evaluated rather than
    added as a script tag: the pages' policy refuses inline scripts, rightly."""
    if not tab.evaluate("typeof axe !== 'undefined'"):
        tab.evaluate(AXE.read_text())
    found = tab.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "));
        }"""
    )
    return list(found)


def pages(ids: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("api-credentials", "/admin/api-credentials"),
        ("api-credential-new", "/admin/api-credentials/new"),
        ("api-credential-edit", f"/admin/api-credentials/{ids['api']}"),
        ("connectors", "/admin/connector-credentials"),
        ("connector-new", "/admin/connector-credentials/new"),
        ("connector-edit", f"/admin/connector-credentials/{ids['connector']}"),
        ("connector-consent-edit", f"/admin/connector-credentials/{ids['consent']}"),
        ("webhooks", "/admin/webhooks"),
        ("webhook-new", "/admin/webhooks/new"),
        ("webhook-edit", f"/admin/webhooks/{ids['webhook']}"),
        ("deliveries", "/admin/deliveries"),
        ("delivery", f"/admin/deliveries/{ids['delivery']}"),
        ("exporters", "/admin/exporters"),
        ("exporter-new", "/admin/exporters/new"),
        ("exporter", f"/admin/exporters/{ids['exporter']}"),
        ("exporter-edit", f"/admin/exporters/{ids['exporter']}/edit"),
        ("signing-keys", "/admin/signing-keys"),
        ("audit", "/admin/audit"),
        ("administrators", "/admin/administrators"),
        ("account", "/admin/account"),
        ("consent-refused", f"/oauth2/callback/{ids['consent']}?state=forged&code=x"),
    ]


def test_every_page_fits_at_1280_and_1920_and_passes_axe(
    browser: Any, live_server: Any, provider: tuple[ProviderState, str]
) -> None:
    ids = seed(live_server.app.container, provider)
    tab, errors = new_page(browser, live_server.url)
    tab.goto("/admin/login")
    login_card = tab.locator(".card.narrow").bounding_box()
    assert login_card is not None
    centre = login_card["x"] + login_card["width"] / 2
    assert abs(centre - WIDTHS[0] / 2) < 2  # the sign-in card is centred
    assert axe_violations(tab) == []
    shot(tab, "login")
    sign_in(tab)
    findings: dict[str, list[str]] = {}
    for width in WIDTHS:
        tab.set_viewport_size({"width": width, "height": 900})
        for name, path in pages(ids):
            tab.goto(path)
            check_fits(tab, width, f"{name}@{width}")
            shot(tab, f"{width}-{name}")
            if width == WIDTHS[0]:
                findings[name] = axe_violations(tab)
    assert {k: v for k, v in findings.items() if v} == {}

    # A list's search row: a styled search box, a page-size menu as wide as its numbers, and
    # the button beside them, on one line at 1280 px.
    tab.goto("/admin/api-credentials")
    row = tab.locator(".list-search").evaluate(
        """form => {
            const box = r => form.querySelector(r).getBoundingClientRect();
            const search = form.querySelector("#f-q");
            return {
                radius: getComputedStyle(search).borderTopLeftRadius,
                searchWidth: box("#f-q").width,
                limitWidth: box("#f-limit").width,
                tops: [box("#f-q").top, box("#f-limit").top, box("button").top],
                height: form.getBoundingClientRect().height,
            };
        }"""
    )
    assert row["radius"] == "6px", row
    assert row["limitWidth"] < 120, row
    assert row["searchWidth"] >= 200, row
    assert row["height"] < 60, row  # one line

    # Human times with the exact time on hover; an absent status code reads as a dash.
    tab.goto(f"/admin/deliveries/{ids['delivery']}")
    when = tab.locator("#attempts tbody td time").first
    assert re.fullmatch(r"just now|\d+ minutes? ago", when.inner_text())
    assert when.get_attribute("title").endswith(" UTC")
    assert tab.locator("#attempts tbody td").nth(1).inner_text() == "—"
    tab.goto("/admin/exporters")
    assert re.fullmatch(r"in (1 day|23 hours)", tab.locator("tbody td time").first.inner_text())
    # The audit log names objects, and its dates hold on one line.
    tab.goto("/admin/audit")
    assert "Incident tickets for every workflow" in tab.locator("table.audit").inner_text()
    heights = tab.locator("table.audit tbody td:first-child time").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert heights
    assert max(heights) < 30

    # The NXQL editor, behind classic Basic authentication.
    editor, editor_errors = new_page(
        browser,
        live_server.url,
        http_credentials={"username": "analyst", "password": CLASSIC_PASSWORD},
    )
    editor.goto("/2/editor/")
    editor.get_by_label("Query").fill("(select (name) (from device) (limit 5))")
    editor.get_by_label("Windows").check()
    editor.get_by_label("Format").select_option("json")
    editor.get_by_role("button", name="Run query").click()
    editor.wait_for_url("**/2/editor?query=*")
    assert editor.locator("#total").inner_text().endswith(("rows", "row"))
    assert editor.locator("#output").inner_text().startswith("[")
    check_fits(editor, WIDTHS[0], "editor")
    assert axe_violations(editor) == []
    shot(editor, "nxql-editor")
    editor.context.close()
    tab.context.close()
    assert errors == []
    assert editor_errors == []


NARROW = 700
LISTS = (
    ("api-credentials", "/admin/api-credentials"),
    ("connectors", "/admin/connector-credentials"),
    ("webhooks", "/admin/webhooks"),
    ("deliveries", "/admin/deliveries"),
    ("exporters", "/admin/exporters"),
    ("signing-keys", "/admin/signing-keys"),
    ("audit", "/admin/audit"),
    ("administrators", "/admin/administrators"),
)


def check_wraps(tab: Any, name: str) -> None:
    """Each table fits its box without scrolling sideways: long names and addresses wrap
    inside their cells, and no cell is squeezed to a sliver (a column a word or two wide)."""
    tables = tab.evaluate(
        """() => [...document.querySelectorAll(".table-wrap")].map(w => ({
            overflow: w.scrollWidth - w.clientWidth,
            narrowest: Math.min(...[...w.querySelectorAll("tbody tr > *:not(.actions-cell)")]
                .filter(c => c.innerText.trim().length > 12)
                .map(c => c.getBoundingClientRect().width)),
        }))"""
    )
    assert tables, name
    for table in tables:
        assert table["overflow"] <= 1, (name, table)
        assert table["narrowest"] >= 72, (name, table)


def test_lists_wrap_below_760_px_with_row_actions_in_view(
    browser: Any, live_server: Any, provider: tuple[ProviderState, str]
) -> None:
    seed(live_server.app.container, provider)
    tab, errors = new_page(browser, live_server.url)
    sign_in(tab)
    tab.set_viewport_size({"width": NARROW, "height": 900})
    for name, path in LISTS:
        tab.goto(path)
        shot(tab, f"{NARROW}-{name}")
        check_fits(tab, NARROW, f"{name}@{NARROW}")
        check_wraps(tab, f"{name}@{NARROW}")
        labels = tab.locator(".actions-cell .button").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert max(labels, default=0) < 40, (name, "a button's label is on one line")
    # The navigation folds above the content rather than taking a column of its own.
    nav = tab.locator(".sidebar").bounding_box()
    content = tab.locator("main").bounding_box()
    assert nav is not None
    assert content is not None
    assert content["y"] >= nav["y"] + nav["height"] - 1
    assert nav["height"] < 200, "the navigation takes its own height, not half the page"
    assert content["width"] >= NARROW - 1
    tab.context.close()
    assert errors == []


def test_connect_completes_a_consent_round_trip(
    browser: Any, live_server: Any, provider: tuple[ProviderState, str]
) -> None:
    container = live_server.app.container
    credential_id = consent_credential(container, provider[1], provider[0], "CRM consent")
    tab, errors = new_page(browser, live_server.url, ignore_https_errors=True)
    sign_in(tab)
    tab.goto("/admin/connector-credentials")
    tab.get_by_role("button", name="Connect CRM consent").click()
    tab.wait_for_url(f"**/oauth2/callback/{credential_id}?*")
    assert tab.get_by_role("heading", name="Connected").is_visible()
    shot(tab, "consent-connected")
    assert container.connector_credentials.get(credential_id).status == "ok"
    assert provider[0].tokens, "the provider issued no token"
    # The edit page connects too.
    tab.goto(f"/admin/connector-credentials/{credential_id}")
    tab.get_by_role("button", name="Connect CRM consent").click()
    tab.wait_for_url(f"**/oauth2/callback/{credential_id}?*")
    assert tab.get_by_role("heading", name="Connected").is_visible()
    tab.context.close()
    assert errors == []


def saved_with_errors(tab: Any, *errors: str) -> str:
    """Save an outbound form left without a name or a credential: the alert (answered) names
    those two and each of ``errors``."""
    tab.get_by_role("button", name="Save").click()
    box: str = tab.get_by_role("alert").inner_text()
    for words in ("Name: is required", "Connector credential: is required", *errors):
        assert words in box, box
    return box


def test_forms_are_checked_as_a_whole_and_exporters_are_edited(
    browser: Any, live_server: Any, provider: tuple[ProviderState, str]
) -> None:
    ids = seed(live_server.app.container, provider)
    tab, errors = new_page(browser, live_server.url)
    sign_in(tab)

    # A webhook: every field at fault at once, in credgate's words; SFTP is not offered.
    tab.goto("/admin/webhooks/new")
    sftp = tab.locator("#f-credential option", has_text="Nightly exports SFTP")
    assert sftp.is_disabled()
    tab.get_by_label("Resource path").fill("api/incident")
    tab.get_by_label("Headers").fill("no separator here")
    box = saved_with_errors(
        tab,
        "Headers: line 1 is not 'name: value'",
        "Resource path: must start with '/'",
    )
    assert "String should" not in box
    assert tab.get_by_label("Resource path").input_value() == "api/incident"
    shot(tab, "webhook-errors")

    # An exporter: the same, and the query's parameter is required; consent is not offered.
    tab.goto("/admin/exporters/new")
    assert tab.locator("#f-credential option", has_text="CRM consent").is_disabled()
    tab.get_by_label("Saved query").select_option("#devices_by_os")
    saved_with_errors(tab, "Query parameters: the query #devices_by_os needs a value for $os")
    shot(tab, "exporter-errors")

    # Edit an exporter: what was stored is shown, a change is saved.
    tab.goto("/admin/exporters")
    tab.get_by_role("link", name="Edit Linux devices every night to the exports server").click()
    assert tab.get_by_label("Query parameters").input_value() == "os=linux"
    assert tab.get_by_label("Directory").input_value().startswith("/exports/devices")
    tab.get_by_label("Query parameters").fill("")
    tab.get_by_role("button", name="Save").click()
    assert "needs a value for $os" in tab.get_by_role("alert").inner_text()
    tab.get_by_label("Query parameters").fill("os=windows")
    tab.get_by_label("Schedule", exact=True).select_option("weekly")
    tab.get_by_role("button", name="Save").click()
    tab.wait_for_url(f"**/admin/exporters/{ids['exporter']}?notice=updated")
    assert "os = windows" in tab.locator("dl.details").inner_text()
    assert "Weekly" in tab.locator("dl.details").inner_text()
    tab.context.close()
    assert errors == []


def test_the_one_time_secret_asks_before_it_is_discarded(browser: Any, live_server: Any) -> None:
    tab, errors = new_page(browser, live_server.url)
    sign_in(tab)
    tab.get_by_role("link", name="New OAuth client credentials").first.click()
    tab.get_by_label("Name", exact=True).fill("Modal check")
    tab.get_by_label("NQL API").check()
    tab.get_by_role("button", name="Save and generate credentials").click()
    modal = tab.locator("#secret-dialog")
    modal.wait_for(state="visible")
    secret = tab.locator("#client-secret").input_value()

    tab.keyboard.press("Escape")  # asks, does not close
    question = tab.get_by_role("alertdialog")
    question.wait_for(state="visible")
    assert "Have you copied it?" in question.inner_text()
    assert modal.is_visible()
    shot(tab, "secret-confirm")
    tab.get_by_role("button", name="Back to the secret").click()
    assert question.is_hidden()
    assert tab.locator("#client-secret").input_value() == secret
    tab.keyboard.press("Escape")
    tab.keyboard.press("Escape")  # a second Escape still does not discard it
    assert modal.is_visible()
    tab.get_by_role("button", name="Close", exact=True).click()
    tab.get_by_role("button", name="Yes, close").click()
    modal.wait_for(state="detached")

    # Regenerating says what happens to the old secret.
    tab.get_by_role("link", name="Edit Modal check").click()
    tab.get_by_role("button", name="Regenerate secret").click()
    message = tab.locator("#confirm-message").inner_text()
    assert "The old secret stops working now" in message
    tab.locator("#confirm-dialog button[value=cancel]").click()
    tab.get_by_label("Old secret keeps working for").select_option(label="1 day")
    tab.get_by_role("button", name="Regenerate secret").click()
    assert "keeps working for 1 day" in tab.locator("#confirm-message").inner_text()
    tab.context.close()
    assert errors == []
