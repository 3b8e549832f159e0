"""Administration → API credentials: list, create (the secret shown once), edit, regenerate,
delete.

Thin views over :class:`ApiCredentialService`: read the form, call the service, render a
template. The service checks every field and names the one at fault; the pages show its errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from credgate.apicredentials.services import ApiCredentialService, CreatedSecret, CredentialView
from credgate.core.audit.services import Actor
from credgate.core.errors import FieldError
from credgate.core.permissions import BY_ID, CATALOGUE
from credgate.core.services import provided
from credgate.web.pages import (
    PREFIX,
    PostedForm,
    UiSession,
    add_delete_route,
    field_errors,
    form_list,
    form_text,
    get_or_404,
    list_view,
    missing,
    post_form,
    redirect,
    render,
    require_post,
    require_session,
    ui_actor,
)

__all__ = ["OVERLAP_CHOICES", "TEMPLATES", "router"]

TEMPLATES = "credgate.apicredentials"
"""The package whose ``templates/`` folder holds these pages' templates."""

router = APIRouter(prefix=PREFIX, include_in_schema=False)

ApiCredentials = Annotated[ApiCredentialService, Depends(provided(ApiCredentialService))]

#: Overlap windows offered when a secret is regenerated: (seconds, label).
OVERLAP_CHOICES: tuple[tuple[int, str], ...] = (
    (0, "None: the old secret stops working now"),
    (3600, "1 hour"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
)
_NOTICES = {
    "updated": "API credential saved.",
    "deleted": "API credential deleted.",
}


def _notice(request: Request) -> str:
    return _NOTICES.get(request.query_params.get("notice", ""), "")


async def _list_page(
    request: Request,
    session: UiSession,
    service: ApiCredentialService,
    created: CreatedSecret | None = None,
) -> Response:
    listing, errors = await list_view(request, "/api-credentials", service.page)
    context = {
        "nav": "api",
        "listing": listing,
        "credentials": listing.page.items,
        "by_id": BY_ID,
        "created": created,
        "notice": _notice(request),
        "errors": errors,
    }
    status = 422 if errors else 200
    return render("apicredentials/api_credentials.html", context, session=session, status=status)


@router.get("/api-credentials")
async def api_credentials(request: Request, service: ApiCredentials) -> Response:
    session = await require_session(request)
    return await _list_page(request, session, service)


_WHAT = "API credential"


def _form_page(
    session: UiSession,
    values: dict[str, Any],
    editing: CredentialView | None,
    errors: Sequence[FieldError] = (),
    *,
    status: int = 200,
) -> Response:
    context = {
        "nav": "api",
        "catalogue": CATALOGUE,
        "values": values,
        "errors": field_errors(errors),
        "editing": editing,
        "overlap_choices": OVERLAP_CHOICES,
    }
    return render(
        "apicredentials/api_credential_form.html", context, session=session, status=status
    )


def _values(form: FormData) -> dict[str, Any]:
    return {
        "name": form_text(form, "name"),
        "description": form_text(form, "description"),
        "permissions": form_list(form, "permissions"),
        "disabled": form_text(form, "disabled") == "on",
        "rate_limit": form_text(form, "rate_limit"),
    }


def _values_of(view: CredentialView | None) -> dict[str, Any]:
    if view is None:
        return {
            "name": "",
            "description": "",
            "permissions": [],
            "disabled": False,
            "rate_limit": "",
        }
    return {
        "name": view.name,
        "description": view.description,
        "permissions": list(view.permissions),
        "disabled": view.disabled,
        "rate_limit": view.rate_limit or "",
    }


@router.get("/api-credentials/new")
async def new_api_credential(request: Request) -> Response:
    session = await require_session(request)
    return _form_page(session, _values_of(None), None)


@router.post("/api-credentials")
async def create_api_credential(request: Request, service: ApiCredentials) -> Response:
    def create(form: FormData, actor: Actor) -> CreatedSecret:
        values = _values(form)
        del values["disabled"]  # a new credential is enabled
        return service.create(actor=actor, **values)

    posted: PostedForm[None, CreatedSecret] = await post_form(request, _WHAT, create)
    if posted.saved is None:
        return _form_page(posted.session, _values(posted.form), None, posted.errors, status=422)
    # The secret is in this one response only: not in a URL, a cookie or a flash message.
    return await _list_page(request, posted.session, service, posted.saved)


@router.get("/api-credentials/{client_id}")
async def edit_api_credential(
    request: Request, client_id: str, service: ApiCredentials
) -> Response:
    session = await require_session(request)
    view = await get_or_404(service.get, client_id, _WHAT)
    return _form_page(session, _values_of(view), view)


@router.post("/api-credentials/{client_id}")
async def update_api_credential(
    request: Request, client_id: str, service: ApiCredentials
) -> Response:
    posted = await post_form(
        request,
        _WHAT,
        lambda form, actor: service.update(client_id, actor=actor, **_values(form)),
        lambda: service.get(client_id),
    )
    if posted.errors:
        return _form_page(
            posted.session, _values(posted.form), posted.record, posted.errors, status=422
        )
    return redirect(f"{PREFIX}/api-credentials?notice=updated")


@router.post("/api-credentials/{client_id}/regenerate")
async def regenerate_api_credential(
    request: Request, client_id: str, service: ApiCredentials
) -> Response:
    session, form = await require_post(request)
    view = await get_or_404(service.get, client_id, _WHAT)
    raw = form_text(form, "overlap_seconds") or "0"
    allowed = {str(seconds): seconds for seconds, _ in OVERLAP_CHOICES}
    if raw not in allowed:  # only the windows offered, not every one the service would take
        errors = [FieldError("overlap_seconds", "choose one of the overlap windows")]
        return _form_page(session, _values_of(view), view, errors, status=422)
    overlap = dt.timedelta(seconds=allowed[raw])
    actor = ui_actor(request, session)
    with missing(_WHAT):
        created = await anyio.to_thread.run_sync(
            lambda: service.regenerate(client_id, actor=actor, overlap=overlap)
        )
    return await _list_page(request, session, service, created)


add_delete_route(
    router,
    "/api-credentials/{client_id}/delete",
    ApiCredentialService,
    f"{PREFIX}/api-credentials?notice=deleted",
    _WHAT,
)
