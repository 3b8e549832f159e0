"""The interactive API documentation at ``/docs``: Swagger UI, served by credgate itself.

The framework's own page loads Swagger UI from a public CDN with no integrity check, starts it
with an inline script, and is blank without Internet access. Here the assets come from the pinned
``fastapi-offline`` package (which ships them) under ``/docs/assets/``, the page is started by a
script of credgate's own, and the page carries the administration pages' headers, CSP included.
ReDoc is not offered: it injects inline styles, which that policy forbids.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from credgate.web.pages import render

__all__ = ["ASSETS", "DOCS", "install_api_docs"]

DOCS = "/docs"
ASSETS = f"{DOCS}/assets"
_SWAGGER_UI = Path(str(files("fastapi_offline") / "static"))


def install_api_docs(framework: FastAPI) -> None:
    """Serve ``/docs`` and its assets; the framework's own pages must be turned off."""
    if framework.docs_url or framework.redoc_url:
        raise ValueError("create the FastAPI application with docs_url=None and redoc_url=None")
    openapi_url = framework.openapi_url or "/openapi.json"

    @framework.get(DOCS, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return render("api_docs.html", {"assets": ASSETS, "openapi_url": openapi_url})

    framework.mount(ASSETS, StaticFiles(directory=_SWAGGER_UI), name="api-docs-assets")
