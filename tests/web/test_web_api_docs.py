"""``/docs``: Swagger UI served by credgate itself, under the administration pages' CSP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import screenshot
from starlette.testclient import TestClient

from support import LiveServer


def test_the_page_references_no_other_origin(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "//" not in re.sub(r"<!doctype html>", "", page.text, flags=re.IGNORECASE), page.text
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references, page.text
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in references)
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it


def test_the_page_has_the_administration_pages_headers(client: TestClient) -> None:
    docs = client.get("/docs")
    admin = client.get("/admin/login")
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert docs.headers[name] == admin.headers[name]
    assert "script-src 'self'" in docs.headers["content-security-policy"]


def test_the_assets_are_served(client: TestClient) -> None:
    page = client.get("/docs").text
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page):
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert b"SwaggerUIBundle" in bundle.content
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_redoc_and_the_cdn_pages_are_gone(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.slow
def test_swagger_ui_renders_in_a_browser_offline(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto("/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any("/admin/api/v1/api-credentials" in p for p in paths), paths
        assert page.locator(".information-container .title").inner_text().startswith("credgate")
        screenshot(page, "api-docs", full_page=False)
    finally:
        context.close()
    assert problems == [], problems  # a CSP violation is logged as a console error
    assert requested, "the page made no requests"
    assert all(url.startswith(live_server.url) for url in requested), requested
