"""Administration → Webhooks, the delivery log and data exporters (SPEC §7).

Thin views over :class:`WebhookService`, :class:`ExporterService` and the
:class:`OutboundWorker` (test sends, runs now): the form is shaped into the admin REST body the services
accept (:class:`credgate.outbound.webhooks.WebhookIn`, :class:`credgate.outbound.exporters.ExporterIn`),
and every :class:`InvalidInputError` or :class:`ConflictError` they raise is shown in the error
box, naming the field, with what was typed kept. A generated signing secret is shown once, on
the answer to the form, with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Protocol, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from credgate.connectors.interfaces import CredentialDirectory, CredentialSummary
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError, FieldError, InvalidInputError
from credgate.core.services import protocol, provided
from credgate.outbound.events import EVENT_TYPES
from credgate.outbound.exporters import ExporterService
from credgate.outbound.webhooks import METHODS, WebhookService
from credgate.outbound.worker import OutboundWorker
from credgate.platform.interfaces import SavedQueries
from credgate.web.pages import (
    PREFIX,
    UiSession,
    act_posted,
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
)

__all__ = [
    "FORMATS",
    "SCHEDULES",
    "TEMPLATES",
    "exporter_body",
    "parse_lines",
    "router",
    "webhook_body",
]

TEMPLATES = "credgate.outbound"
"""The package whose ``templates/`` folder holds these pages' templates."""

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)

Webhooks = Annotated[WebhookService, Depends(provided(WebhookService))]
Exporters = Annotated[ExporterService, Depends(provided(ExporterService))]
Worker = Annotated[OutboundWorker, Depends(provided(OutboundWorker))]
Credentials = Annotated[CredentialDirectory, Depends(provided(protocol(CredentialDirectory)))]
Definitions = Annotated[SavedQueries, Depends(provided(protocol(SavedQueries)))]


@dataclass(frozen=True, slots=True)
class _ExporterServices:
    """What the exporter form pages read and change."""

    exporters: ExporterService
    credentials: CredentialDirectory
    definitions: SavedQueries


async def _exporter_services(
    exporters: Exporters, credentials: Credentials, definitions: Definitions
) -> _ExporterServices:
    return _ExporterServices(exporters, credentials, definitions)


ExporterForm = Annotated[_ExporterServices, Depends(_exporter_services)]

FORMATS = (("csv", "CSV"), ("jsonl", "JSON lines"))
SCHEDULES = (("hourly", "Hourly"), ("daily", "Daily"), ("weekly", "Weekly"))
BODIES = (
    ("json_lines", "JSON lines"),
    ("json_array", "A JSON array"),
    ("json_object", "A JSON object holding the array"),
)
_FIELD_MAX = 65536
_WEBHOOK_FIELDS = ("name", "credential", "method", "resource", "headers", "payload_template")
_EXPORTER_FIELDS = (
    "name",
    "query_id",
    "parameters",
    "format",
    "credential",
    "directory",
    "file_pattern",
    "path",
    "body",
    "array_key",
    "schedule",
)
_LABELS = {
    "name": "Name",
    "credential": "Connector credential",
    "method": "Method",
    "resource": "Resource path",
    "headers": "Headers",
    "payload_template": "Payload template",
    "triggers": "Trigger events",
    "signing_secret": "Signing secret",
    "enabled": "Enabled",
    "query_id": "Saved query",
    "parameters": "Query parameters",
    "format": "Format",
    "directory": "Directory",
    "file_pattern": "File name pattern",
    "path": "Resource path",
    "body": "Body shape",
    "array_key": "Array key",
    "schedule": "Schedule",
    "event": "Test event",
    "body.": "Form",
}
_NOTICES = {
    "created": "Saved.",
    "updated": "Saved.",
    "deleted": "Deleted.",
    "replayed": "The delivery is queued again; the worker sends it shortly.",
}


def parse_lines(text: str, separator: str, field: str) -> tuple[dict[str, str], list[FieldError]]:
    """``Name<separator>value`` per line as a mapping; a line without the separator is an error."""
    found: dict[str, str] = {}
    problems: list[FieldError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(separator)
        if not sep or not name.strip():
            problems.append(FieldError(field, f"line {number} is not 'name{separator} value'"))
            continue
        found[name.strip()] = value.strip()
    return found, problems


def _boxed(errors: list[FieldError]) -> list[dict[str, str]]:
    boxed = []
    for e in field_errors(errors):
        top = e["field"].split(".", 1)[0]
        e["label"] = _LABELS.get(top, e["field"]) + (
            f" ({e['field'].split('.', 1)[1]})" if "." in e["field"] else ""
        )
        e["input"] = f"f-{top}"
        boxed.append(e)
    return boxed


def _too_long(values: dict[str, Any]) -> list[FieldError]:
    return [
        FieldError(k, f"must be at most {_FIELD_MAX} characters")
        for k, v in values.items()
        if isinstance(v, str) and len(v) > _FIELD_MAX
    ]


def _credentials(credentials: CredentialDirectory) -> list[CredentialSummary]:
    return credentials.summaries()


async def _credential_names(credentials: CredentialDirectory) -> dict[str, str]:
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    return {c.id: c.name for c in listed}


class _Editable(Protocol[_T_co]):
    def get(self, ref: str) -> dict[str, Any]: ...
    def check(self, data: object) -> None: ...
    def create(self, data: object, *, actor: Actor) -> _T_co: ...
    def update(self, ref: str, data: object, *, actor: Actor) -> _T_co: ...


#: A form's values, the admin REST body they make, and the problems of its shape.
_Shape = tuple[dict[str, Any], dict[str, Any], list[FieldError]]
#: A form page: (session, values, the record edited, errors, status).
_FormPage = Callable[
    [UiSession, dict[str, Any], dict[str, Any] | None, list[FieldError], int], Awaitable[Response]
]


async def _post(
    request: Request,
    ref: str | None,
    service: _Editable[_T],
    what: str,
    shape: Callable[[FormData, str | None], _Shape],
    form_page: _FormPage,
) -> tuple[UiSession, _T] | Response:
    """Create (``ref`` None) or update from a form whose own shape is sound; otherwise only
    check it, so that the service's problems join the form's in one box. Answers who saved
    what, or the form again with what was typed and why it was refused."""

    def save(form: FormData, actor: Actor) -> _T:
        values, body, errors = shape(form, ref)
        errors += _too_long(values)
        if errors:
            try:
                service.check(body)
            except (InvalidInputError, ConflictError) as exc:
                known = {e.field for e in errors}
                errors += [e for e in exc.errors if e.field not in known]
            raise InvalidInputError(errors)
        if ref is None:
            return service.create(body, actor=actor)
        return service.update(ref, body, actor=actor)

    read = None if ref is None else lambda: service.get(ref)
    posted = await post_form(request, what, save, read)
    if posted.saved is None:
        values = shape(posted.form, ref)[0]
        return await form_page(posted.session, values, posted.record, posted.errors, 422)
    return posted.session, posted.saved


async def _form(
    template: str,
    session: UiSession,
    credentials: CredentialDirectory,
    usable: Callable[[CredentialSummary], tuple[str, bool]],
    values: dict[str, Any],
    record: dict[str, Any] | None,
    errors: list[FieldError] | None,
    status: int,
    **context: Any,
) -> Response:
    """A webhook's or an exporter's form. ``usable``: how a credential is offered (its label's
    note, and whether it may be chosen)."""
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    chosen = next((c.id for c in listed if values["credential"] in (c.id, c.name)), "")
    boxed = _boxed(errors or [])
    return render(
        template,
        {
            "values": {**values, "credential": chosen or values["credential"]},
            "record": record,
            "errors": boxed,
            "bad": {e["input"].removeprefix("f-") for e in boxed},
            "credential_choices": [
                (c.id, f"{c.name}{note}", refused) for c in listed for note, refused in [usable(c)]
            ],
            **context,
        },
        session=session,
        status=status,
    )


def _notice(request: Request) -> str:
    return _NOTICES.get(request.query_params.get("notice", ""), "")


# Webhooks --------------------------------------------------------------------------------------


def webhook_body(values: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The form's values as the admin REST body of a webhook, and the problems of its shape."""
    headers, problems = parse_lines(values["headers"], ":", "headers")
    body: dict[str, Any] = {
        "name": values["name"],
        "credential": values["credential"],
        "method": values["method"],
        "resource": values["resource"],
        "headers": headers,
        "payload_template": values["payload_template"],
        "triggers": list(values["triggers"]),
        "enabled": bool(values["enabled"]),
    }
    secret = values.get("secret_choice", "keep")
    if secret == "generate":
        body["signing_secret"] = "generate"
    elif secret == "none":
        body["signing_secret"] = ""
    return body, problems


def _webhook_values(form: FormData | None, view: dict[str, Any] | None) -> dict[str, Any]:
    if form is not None:
        values: dict[str, Any] = {name: form_text(form, name) for name in _WEBHOOK_FIELDS}
        values["triggers"] = form_list(form, "triggers")
        values["enabled"] = form_text(form, "enabled") == "on"
        values["secret_choice"] = form_text(form, "secret_choice") or "keep"
        return values
    if view is None:
        return {
            **dict.fromkeys(_WEBHOOK_FIELDS, ""),
            "method": "POST",
            "triggers": [],
            "enabled": True,
            "secret_choice": "none",
        }
    return {
        "name": view["name"],
        "credential": view["credential_id"],
        "method": view["method"],
        "resource": view["resource"],
        "headers": "\n".join(f"{k}: {v}" for k, v in view["headers"].items()),
        "payload_template": view["payload_template"],
        "triggers": view["triggers"],
        "enabled": view["enabled"],
        "secret_choice": "keep",
    }


def _webhook_shape(form: FormData, ref: str | None) -> _Shape:
    values = _webhook_values(form, None)
    if ref is None and values["secret_choice"] == "keep":
        values["secret_choice"] = "none"
    return (values, *webhook_body(values))


def _webhook_usable(credential: CredentialSummary) -> tuple[str, bool]:
    if credential.protocol != "HTTPS":
        return " (SFTP: webhooks send HTTPS requests)", True
    return "", False


async def _webhook_form(
    credentials: CredentialDirectory,
    session: UiSession,
    values: dict[str, Any],
    view: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    return await _form(
        "outbound/webhook_form.html",
        session,
        credentials,
        _webhook_usable,
        values,
        view,
        errors,
        status,
        nav="webhooks",
        methods=METHODS,
        events=EVENT_TYPES,
    )


async def _webhooks_page(
    request: Request,
    session: UiSession,
    webhooks: WebhookService,
    credentials: CredentialDirectory,
    *,
    secret: tuple[str, str] | None = None,
    verdict: tuple[str, dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    listing, errors = await list_view(request, "/webhooks", webhooks.page)
    return render(
        "outbound/webhooks.html",
        {
            "nav": "webhooks",
            "listing": listing,
            "records": listing.page.items,
            "errors": errors,
            "credential_names": await _credential_names(credentials),
            "notice": _notice(request),
            "secret": secret,
            "verdict": verdict,
        },
        session=session,
        status=422 if errors else status,
        headers={"Cache-Control": "no-store"} if secret else None,
    )


@router.get("/webhooks")
async def list_webhooks(request: Request, webhooks: Webhooks, credentials: Credentials) -> Response:
    session = await require_session(request)
    return await _webhooks_page(request, session, webhooks, credentials)


@router.get("/webhooks/new")
async def new_webhook(request: Request, credentials: Credentials) -> Response:
    session = await require_session(request)
    return await _webhook_form(credentials, session, _webhook_values(None, None))


async def _save_webhook(
    request: Request,
    ref: str | None,
    webhooks: WebhookService,
    credentials: CredentialDirectory,
) -> Response:
    form_page = partial(_webhook_form, credentials)
    posted = await _post(request, ref, webhooks, "webhook", _webhook_shape, form_page)
    if isinstance(posted, Response):
        return posted
    session, (saved, secret) = posted
    if secret is not None:
        return await _webhooks_page(
            request, session, webhooks, credentials, secret=(saved["name"], secret)
        )
    return redirect(f"{PREFIX}/webhooks?notice={'created' if ref is None else 'updated'}")


@router.post("/webhooks")
async def create_webhook(
    request: Request, webhooks: Webhooks, credentials: Credentials
) -> Response:
    return await _save_webhook(request, None, webhooks, credentials)


@router.get("/webhooks/{ref}")
async def edit_webhook(
    request: Request, ref: str, webhooks: Webhooks, credentials: Credentials
) -> Response:
    session = await require_session(request)
    view = await get_or_404(webhooks.get, ref, "webhook")
    return await _webhook_form(credentials, session, _webhook_values(None, view), view)


@router.post("/webhooks/{ref}")
async def update_webhook(
    request: Request, ref: str, webhooks: Webhooks, credentials: Credentials
) -> Response:
    return await _save_webhook(request, ref, webhooks, credentials)


add_delete_route(
    router, "/webhooks/{ref}/delete", WebhookService, f"{PREFIX}/webhooks?notice=deleted", "webhook"
)


@router.post("/webhooks/{ref}/test")
async def test_webhook(
    request: Request, ref: str, webhooks: Webhooks, worker: Worker, credentials: Credentials
) -> Response:
    session, form = await require_post(request)
    event = form_text(form, "event") or "explicit"
    view = await get_or_404(webhooks.get, ref, "webhook")
    try:
        with missing("webhook"):
            result = await worker.test_send(view["id"], event)
    except InvalidInputError as exc:
        result = {"outcome": "failed", "status_code": None, "duration_ms": 0, "response": ""}
        result["error"] = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return await _webhooks_page(
        request, session, webhooks, credentials, verdict=(view["name"], result)
    )


# Deliveries ------------------------------------------------------------------------------------


async def _hook_names(webhooks: WebhookService) -> dict[str, str]:
    hooks = await anyio.to_thread.run_sync(webhooks.list)
    return {h["id"]: h["name"] for h in hooks}


@router.get("/deliveries")
async def list_deliveries(request: Request, webhooks: Webhooks) -> Response:
    session = await require_session(request)
    webhook = request.query_params.get("webhook") or None
    with missing("webhook"):
        listing, errors = await list_view(
            request,
            "/deliveries",
            lambda wanted: webhooks.deliveries_page(wanted, webhook=webhook),
            keep={"webhook": webhook or ""},
        )
    return render(
        "outbound/deliveries.html",
        {
            "nav": "deliveries",
            "listing": listing,
            "records": listing.page.items,
            "errors": errors,
            "hook_names": await _hook_names(webhooks),
            "notice": _notice(request),
        },
        session=session,
        status=422 if errors else 200,
    )


@router.get("/deliveries/{delivery_id}")
async def show_delivery(request: Request, delivery_id: str, webhooks: Webhooks) -> Response:
    session = await require_session(request)
    item = await get_or_404(webhooks.delivery, delivery_id, "delivery")
    return render(
        "outbound/delivery.html",
        {
            "nav": "deliveries",
            "d": item,
            "hook_names": await _hook_names(webhooks),
            "notice": _notice(request),
        },
        session=session,
    )


@router.post("/deliveries/{delivery_id}/replay")
async def replay_delivery(request: Request, delivery_id: str, webhooks: Webhooks) -> Response:
    def replay(actor: Actor) -> None:
        with suppress(ConflictError):  # still pending: it is on its way already
            webhooks.replay(delivery_id, actor=actor)

    then = f"{PREFIX}/deliveries/{delivery_id}?notice=replayed"
    return await act_posted(request, replay, then, "delivery")


# Exporters -------------------------------------------------------------------------------------


def exporter_body(values: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The form's values as the admin REST body of an exporter, and the problems of its shape."""
    parameters, problems = parse_lines(values["parameters"], "=", "parameters")
    body: dict[str, Any] = {k: v for k, v in values.items() if k != "parameters"}
    body["parameters"] = parameters
    body["enabled"] = bool(values.get("enabled"))
    return body, problems


def _exporter_values(form: FormData | None, view: dict[str, Any] | None = None) -> dict[str, Any]:
    values: dict[str, Any]
    if form is not None:
        values = {name: form_text(form, name) for name in _EXPORTER_FIELDS}
        values["enabled"] = form_text(form, "enabled") == "on"
        return values
    if view is not None:
        values = {
            **dict.fromkeys(_EXPORTER_FIELDS, ""),
            **_exporter_values(None),
            **{k: view[k] for k in ("name", "query_id", "format", "schedule", "enabled")},
            **view["destination"],
        }
        values["credential"] = view["credential_id"]
        values["parameters"] = "\n".join(f"{k}={v}" for k, v in view["parameters"].items())
        return values
    values = dict.fromkeys(_EXPORTER_FIELDS, "")
    values["enabled"] = True
    values.update(
        format="csv",
        directory="/",
        file_pattern="{name}-{timestamp}.{ext}",
        path="/",
        body="json_lines",
        array_key="items",
        schedule="daily",
    )
    return values


def _exporter_shape(form: FormData, _ref: str | None) -> _Shape:
    values = _exporter_values(form)
    return (values, *exporter_body(values))


def _exporter_usable(credential: CredentialSummary) -> tuple[str, bool]:
    consent = credential.auth_type == "OAUTH2_AUTHORIZATION_CODE"
    note = ", authorization code: not for unattended exports" if consent else ""
    return f" ({credential.protocol}{note})", consent


def _query_label(key: str, needs: list[str]) -> str:
    return f"{key} (needs {', '.join(f'${n}' for n in needs)})" if needs else key


async def _exporter_form(
    services: _ExporterServices,
    session: UiSession,
    values: dict[str, Any],
    record: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    queries = await anyio.to_thread.run_sync(services.definitions.catalog)
    return await _form(
        "outbound/exporter_form.html",
        session,
        services.credentials,
        _exporter_usable,
        values,
        record,
        errors,
        status,
        nav="exporters",
        queries=[(key, _query_label(key, needs)) for key, needs in queries],
        formats=FORMATS,
        schedules=SCHEDULES,
        bodies=BODIES,
    )


@router.get("/exporters")
async def list_exporters(
    request: Request, exporters: Exporters, credentials: Credentials
) -> Response:
    session = await require_session(request)
    listing, errors = await list_view(request, "/exporters", exporters.page)
    return render(
        "outbound/exporters.html",
        {
            "nav": "exporters",
            "listing": listing,
            "records": listing.page.items,
            "errors": errors,
            "credential_names": await _credential_names(credentials),
            "notice": _notice(request),
            "run": None,
        },
        session=session,
        status=422 if errors else 200,
    )


@router.get("/exporters/new")
async def new_exporter(request: Request, services: ExporterForm) -> Response:
    session = await require_session(request)
    return await _exporter_form(services, session, _exporter_values(None))


async def _save_exporter(request: Request, ref: str | None, services: ExporterForm) -> Response:
    form_page = partial(_exporter_form, services)
    posted = await _post(request, ref, services.exporters, "exporter", _exporter_shape, form_page)
    if isinstance(posted, Response):
        return posted
    if ref is None:
        return redirect(f"{PREFIX}/exporters?notice=created")
    return redirect(f"{PREFIX}/exporters/{ref}?notice=updated")


@router.post("/exporters")
async def create_exporter(request: Request, services: ExporterForm) -> Response:
    return await _save_exporter(request, None, services)


@router.get("/exporters/{ref}/edit")
async def edit_exporter(request: Request, ref: str, services: ExporterForm) -> Response:
    session = await require_session(request)
    view = await get_or_404(services.exporters.get, ref, "exporter")
    return await _exporter_form(services, session, _exporter_values(None, view), view)


@router.post("/exporters/{ref}")
async def update_exporter(request: Request, ref: str, services: ExporterForm) -> Response:
    return await _save_exporter(request, ref, services)


@router.get("/exporters/{ref}")
async def show_exporter(
    request: Request, ref: str, exporters: Exporters, credentials: Credentials
) -> Response:
    session = await require_session(request)
    view = await get_or_404(exporters.get, ref, "exporter")
    runs = await get_or_404(exporters.runs, ref, "exporter")
    return render(
        "outbound/exporter.html",
        {
            "nav": "exporters",
            "e": view,
            "runs": runs,
            "credential_names": await _credential_names(credentials),
            "destination_labels": _LABELS,
            "notice": _notice(request),
        },
        session=session,
    )


@router.post("/exporters/{ref}/run")
async def run_exporter(
    request: Request, ref: str, exporters: Exporters, worker: Worker
) -> Response:
    await require_post(request)
    view = await get_or_404(exporters.get, ref, "exporter")
    await worker.run_export(view["id"], "manual")
    return redirect(f"{PREFIX}/exporters/{view['id']}")


add_delete_route(
    router,
    "/exporters/{ref}/delete",
    ExporterService,
    f"{PREFIX}/exporters?notice=deleted",
    "exporter",
)
