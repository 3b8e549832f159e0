"""The NXQL editor (``/2/editor``): a query box, platform and format choices, and the rows.

It sits behind the classic APIs' own authentication (HTTP Basic with a classic user account,
or a token allowed ``/2/query``), not the administrators' session: it is the classic users'
page. It runs each query through :func:`credgate.classic.routes.run_nxql`, exactly as
``/2/query`` does, and links to ``/2/query`` with the same parameters for the chosen format.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from credgate.classic.auth import ClassicAuthenticator, ClassicPrincipal
from credgate.classic.inventory import InventorySource
from credgate.classic.nxql_output import FORMATS, cells
from credgate.classic.routes import PLATFORMS, NxqlAnswer, classic_caller, run_nxql
from credgate.core.errors import FieldError, InvalidInputError
from credgate.core.services import provided
from credgate.web.api import AppSettings
from credgate.web.pages import field_errors, render

__all__ = ["EDITOR", "TEMPLATES", "router"]

TEMPLATES = "credgate.classic"
"""The package whose ``templates/`` folder holds this page's template."""

EDITOR = "/2/editor"
"""The editor's page (``/2/editor/`` redirects here, as the router does for any trailing slash)."""
router = APIRouter(include_in_schema=False)

Authenticator = Annotated[ClassicAuthenticator, Depends(provided(ClassicAuthenticator))]
_inventory = provided(InventorySource)  # type: ignore[type-abstract]
Inventory = Annotated[InventorySource, Depends(_inventory)]

_EXAMPLE = "(select (name platform) (from device) (limit 100))"
_LABELS = {
    "query": "Query",
    "parameters": "Parameters",
    "platform": "Platform",
    "format": "Format",
    "hr": "Human-readable",
}
_PLATFORM_LABELS = {"windows": "Windows", "mac_os": "macOS", "mobile": "Mobile"}
_FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "xml": "XML", "html": "HTML"}
_PARAMETER = re.compile(r"[p%]?\d+")
_SHOWN_ROWS = 1000
_SHOWN_TEXT = 200_000


async def _editor_user(
    request: Request, authenticator: Authenticator, settings: AppSettings
) -> ClassicPrincipal:
    return await classic_caller(request, authenticator, settings, EDITOR)


EditorUser = Annotated[ClassicPrincipal, Depends(_editor_user)]


@router.get(EDITOR)
async def nxql_editor(request: Request, inventory: Inventory, user: EditorUser) -> Response:
    params = request.query_params
    asked = "query" in params
    pairs = [(k, v) for k, v in params.multi_items() if k in ("query", "platform", "format", "hr")]
    lines = params.get("parameters", "").splitlines()
    pairs += [(f"p{number}", line.strip()) for number, line in enumerate(lines, start=1)]
    values = {
        "parameters": params.get("parameters", ""),
        "query": params.get("query", _EXAMPLE),
        "platforms": params.getlist("platform"),
        "format": params.get("format", "csv"),
        "hr": params.get("hr") == "true",
    }
    answer: NxqlAnswer | None = None
    errors: list[FieldError] = []
    if asked:
        try:
            answer = await run_nxql(pairs, inventory)
        except InvalidInputError as exc:
            errors = list(exc.errors)
    boxed = [
        {**e, "label": _LABELS.get(field, field), "input": f"f-{field}", "field": field}
        for e in field_errors(errors)
        # %1, %2...: the query's parameters, all in one box
        for field in ["parameters" if _PARAMETER.fullmatch(e["field"]) else e["field"]]
    ]
    context = {
        "user": user.name,
        "values": values,
        "errors": boxed,
        "bad": {e["field"] for e in boxed},
        "platforms": [(p, _PLATFORM_LABELS[p]) for p in PLATFORMS],
        "formats": [(f, _FORMAT_LABELS[f]) for f in FORMATS],
        "answer": answer,
        "shown": _SHOWN_ROWS,
        "rows": cells(answer.result, answer.hr)[:_SHOWN_ROWS] if answer else [],
        "text": answer.body()[:_SHOWN_TEXT] if answer and answer.fmt != "html" else "",
        "download": f"/2/query?{urlencode(pairs)}" if answer else "",
    }
    return render("classic/editor.html", context, status=422 if errors else 200)
