"""Administration → Webhooks, the delivery log and data exporters (SPEC §7).

Thin views over :class:`WebhookService`, :class:`ExporterService` and the
:class:`OutboundWorker` (test sends, runs now): the form is shaped into the admin REST body the services
accept (:class:`credgate.outbound.webhooks.WebhookIn`, :class:`credgate.outbound.exporters.ExporterIn`),
and every :class:`InvalidInputError` or :class:`ConflictError` they raise is shown in the error
box, naming the field, with what was typed kept. A generated signing secret is shown once, on
the answer to the form, with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from credgate.connectors.credentials.services import ConnectorCredentialService, CredentialView
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.core.services import provided
from credgate.outbound.events import EVENT_TYPES
from credgate.outbound.exporters import ExporterService
from credgate.outbound.webhooks import METHODS, WebhookService
from credgate.outbound.worker import OutboundWorker
from credgate.platform.definitions import DefinitionService
from credgate.web.pages import (
    PREFIX,
    UiSession,
    field_errors,
    form_list,
    form_text,
    list_view,
    redirect,
    render,
    require_post,
    require_session,
    ui_actor,
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
Credentials = Annotated[ConnectorCredentialService, Depends(provided(ConnectorCredentialService))]
Definitions = Annotated[DefinitionService, Depends(provided(DefinitionService))]

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


def _credentials(credentials: ConnectorCredentialService) -> list[CredentialView]:
    return list(credentials.list(offset=0, limit=500).items)


def _not_found(session: UiSession, what: str) -> Response:
    return render(
        "error.html",
        {"title": "Not found", "message": f"There is no {what} with this id. It may be deleted."},
        session=session,
        status=404,
    )


class _Editable(Protocol[_T_co]):
    def check(self, data: object) -> None: ...
    def create(self, data: object, *, actor: Actor) -> _T_co: ...
    def update(self, ref: str, data: object, *, actor: Actor) -> _T_co: ...


async def _submit(
    service: _Editable[_T], ref: str | None, body: object, errors: list[FieldError], actor: Actor
) -> tuple[_T | None, list[FieldError]]:
    """Create (``ref`` None) or update from a form whose own shape is sound; otherwise only
    check it, so that the service's problems join the form's in one box. Answers what was saved
    (``None`` if nothing) and every problem; :class:`NotFoundError` passes through."""
    try:
        if errors:
            await anyio.to_thread.run_sync(service.check, body)
            return None, errors
        if ref is None:
            return await anyio.to_thread.run_sync(lambda: service.create(body, actor=actor)), []
        return await anyio.to_thread.run_sync(lambda: service.update(ref, body, actor=actor)), []
    except (InvalidInputError, ConflictError) as exc:
        known = {e.field for e in errors}
        return None, errors + [e for e in exc.errors if e.field not in known]


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


async def _webhook_form(
    session: UiSession,
    credentials: ConnectorCredentialService,
    values: dict[str, Any],
    *,
    view: dict[str, Any] | None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    boxed = _boxed(errors or [])
    return render(
        "outbound/webhook_form.html",
        {
            "nav": "webhooks",
            "values": values,
            "record": view,
            "errors": boxed,
            "bad": {e["input"].removeprefix("f-") for e in boxed},
            "credentials": listed,
            "methods": METHODS,
            "events": EVENT_TYPES,
        },
        session=session,
        status=status,
    )


async def _webhooks_page(
    request: Request,
    session: UiSession,
    webhooks: WebhookService,
    credentials: ConnectorCredentialService,
    *,
    secret: tuple[str, str] | None = None,
    verdict: tuple[str, dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    listing, errors = await list_view(request, "/webhooks", webhooks.page)
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    return render(
        "outbound/webhooks.html",
        {
            "nav": "webhooks",
            "listing": listing,
            "records": listing.page.items,
            "errors": errors,
            "credential_names": {c.id: c.name for c in listed},
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
    return await _webhook_form(session, credentials, _webhook_values(None, None), view=None)


async def _save_webhook(
    request: Request,
    ref: str | None,
    webhooks: WebhookService,
    credentials: ConnectorCredentialService,
) -> Response:
    session, form = await require_post(request)
    view: dict[str, Any] | None = None
    if ref is not None:
        try:
            view = await anyio.to_thread.run_sync(webhooks.get, ref)
        except NotFoundError:
            return _not_found(session, "webhook")
    values = _webhook_values(form, None)
    if ref is None and values["secret_choice"] == "keep":
        values["secret_choice"] = "none"
    body, errors = webhook_body(values)
    errors += _too_long(values)
    try:
        done, errors = await _submit(webhooks, ref, body, errors, ui_actor(request, session))
    except NotFoundError:
        return _not_found(session, "webhook")
    if done is not None:
        saved, secret = done
        if secret is not None:
            return await _webhooks_page(
                request, session, webhooks, credentials, secret=(saved["name"], secret)
            )
        return redirect(f"{PREFIX}/webhooks?notice={'created' if ref is None else 'updated'}")
    return await _webhook_form(session, credentials, values, view=view, errors=errors, status=422)


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
    try:
        view = await anyio.to_thread.run_sync(webhooks.get, ref)
    except NotFoundError:
        return _not_found(session, "webhook")
    return await _webhook_form(session, credentials, _webhook_values(None, view), view=view)


@router.post("/webhooks/{ref}")
async def update_webhook(
    request: Request, ref: str, webhooks: Webhooks, credentials: Credentials
) -> Response:
    return await _save_webhook(request, ref, webhooks, credentials)


@router.post("/webhooks/{ref}/delete")
async def delete_webhook(request: Request, ref: str, webhooks: Webhooks) -> Response:
    session, _form = await require_post(request)
    actor = ui_actor(request, session)
    try:
        await anyio.to_thread.run_sync(lambda: webhooks.delete(ref, actor=actor))
    except NotFoundError:
        return _not_found(session, "webhook")
    return redirect(f"{PREFIX}/webhooks?notice=deleted")


@router.post("/webhooks/{ref}/test")
async def test_webhook(
    request: Request, ref: str, webhooks: Webhooks, worker: Worker, credentials: Credentials
) -> Response:
    session, form = await require_post(request)
    event = form_text(form, "event") or "explicit"
    try:
        view = await anyio.to_thread.run_sync(webhooks.get, ref)
        result = await worker.test_send(view["id"], event)
    except NotFoundError:
        return _not_found(session, "webhook")
    except InvalidInputError as exc:
        result = {"outcome": "failed", "status_code": None, "duration_ms": 0, "response": ""}
        result["error"] = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return await _webhooks_page(
        request, session, webhooks, credentials, verdict=(view["name"], result)
    )


# Deliveries ------------------------------------------------------------------------------------


@router.get("/deliveries")
async def list_deliveries(request: Request, webhooks: Webhooks) -> Response:
    session = await require_session(request)
    webhook = request.query_params.get("webhook") or None
    try:
        listing, errors = await list_view(
            request,
            "/deliveries",
            lambda wanted: webhooks.deliveries_page(wanted, webhook=webhook),
            keep={"webhook": webhook or ""},
        )
    except NotFoundError:
        return _not_found(session, "webhook")
    hooks = await anyio.to_thread.run_sync(webhooks.list)
    return render(
        "outbound/deliveries.html",
        {
            "nav": "deliveries",
            "listing": listing,
            "records": listing.page.items,
            "errors": errors,
            "hook_names": {h["id"]: h["name"] for h in hooks},
            "notice": _notice(request),
        },
        session=session,
        status=422 if errors else 200,
    )


@router.get("/deliveries/{delivery_id}")
async def show_delivery(request: Request, delivery_id: str, webhooks: Webhooks) -> Response:
    session = await require_session(request)
    try:
        item = await anyio.to_thread.run_sync(webhooks.delivery, delivery_id)
    except NotFoundError:
        return _not_found(session, "delivery")
    hooks = await anyio.to_thread.run_sync(webhooks.list)
    return render(
        "outbound/delivery.html",
        {
            "nav": "deliveries",
            "d": item,
            "hook_names": {h["id"]: h["name"] for h in hooks},
            "notice": _notice(request),
        },
        session=session,
    )


@router.post("/deliveries/{delivery_id}/replay")
async def replay_delivery(request: Request, delivery_id: str, webhooks: Webhooks) -> Response:
    session, _form = await require_post(request)
    actor = ui_actor(request, session)
    try:
        await anyio.to_thread.run_sync(lambda: webhooks.replay(delivery_id, actor=actor))
    except NotFoundError:
        return _not_found(session, "delivery")
    except ConflictError:
        pass  # still pending: it is on its way already
    return redirect(f"{PREFIX}/deliveries/{delivery_id}?notice=replayed")


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


async def _exporter_form(
    session: UiSession,
    credentials: ConnectorCredentialService,
    definitions: DefinitionService,
    values: dict[str, Any],
    *,
    record: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> Response:
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    queries = await anyio.to_thread.run_sync(lambda: definitions.list("query"))
    boxed = _boxed(errors or [])
    return render(
        "outbound/exporter_form.html",
        {
            "nav": "exporters",
            "values": values,
            "record": record,
            "errors": boxed,
            "bad": {e["input"].removeprefix("f-") for e in boxed},
            "credentials": listed,
            "queries": [(q.key, q.data.get("parameters") or []) for q in queries],
            "formats": FORMATS,
            "schedules": SCHEDULES,
            "bodies": BODIES,
        },
        session=session,
        status=status,
    )


@router.get("/exporters")
async def list_exporters(
    request: Request, exporters: Exporters, credentials: Credentials
) -> Response:
    session = await require_session(request)
    listing, errors = await list_view(request, "/exporters", exporters.page)
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    return render(
        "outbound/exporters.html",
        {
            "nav": "exporters",
            "listing": listing,
            "records": listing.page.items,
            "errors": errors,
            "credential_names": {c.id: c.name for c in listed},
            "notice": _notice(request),
            "run": None,
        },
        session=session,
        status=422 if errors else 200,
    )


@router.get("/exporters/new")
async def new_exporter(
    request: Request, credentials: Credentials, definitions: Definitions
) -> Response:
    session = await require_session(request)
    return await _exporter_form(session, credentials, definitions, _exporter_values(None))


async def _save_exporter(
    request: Request,
    ref: str | None,
    exporters: ExporterService,
    credentials: ConnectorCredentialService,
    definitions: DefinitionService,
) -> Response:
    session, form = await require_post(request)
    record: dict[str, Any] | None = None
    if ref is not None:
        try:
            record = await anyio.to_thread.run_sync(exporters.get, ref)
        except NotFoundError:
            return _not_found(session, "exporter")
    values = _exporter_values(form)
    body, errors = exporter_body(values)
    errors += _too_long(dict(values))
    try:
        done, errors = await _submit(exporters, ref, body, errors, ui_actor(request, session))
    except NotFoundError:
        return _not_found(session, "exporter")
    if done is not None:
        if ref is None:
            return redirect(f"{PREFIX}/exporters?notice=created")
        return redirect(f"{PREFIX}/exporters/{ref}?notice=updated")
    return await _exporter_form(
        session, credentials, definitions, values, record=record, errors=errors, status=422
    )


@router.post("/exporters")
async def create_exporter(
    request: Request,
    exporters: Exporters,
    credentials: Credentials,
    definitions: Definitions,
) -> Response:
    return await _save_exporter(request, None, exporters, credentials, definitions)


@router.get("/exporters/{ref}/edit")
async def edit_exporter(
    request: Request,
    ref: str,
    exporters: Exporters,
    credentials: Credentials,
    definitions: Definitions,
) -> Response:
    session = await require_session(request)
    try:
        view = await anyio.to_thread.run_sync(exporters.get, ref)
    except NotFoundError:
        return _not_found(session, "exporter")
    return await _exporter_form(
        session, credentials, definitions, _exporter_values(None, view), record=view
    )


@router.post("/exporters/{ref}")
async def update_exporter(
    request: Request,
    ref: str,
    exporters: Exporters,
    credentials: Credentials,
    definitions: Definitions,
) -> Response:
    return await _save_exporter(request, ref, exporters, credentials, definitions)


@router.get("/exporters/{ref}")
async def show_exporter(
    request: Request, ref: str, exporters: Exporters, credentials: Credentials
) -> Response:
    session = await require_session(request)
    try:
        view = await anyio.to_thread.run_sync(exporters.get, ref)
        runs = await anyio.to_thread.run_sync(exporters.runs, ref)
    except NotFoundError:
        return _not_found(session, "exporter")
    listed = await anyio.to_thread.run_sync(_credentials, credentials)
    return render(
        "outbound/exporter.html",
        {
            "nav": "exporters",
            "e": view,
            "runs": runs,
            "credential_names": {c.id: c.name for c in listed},
            "destination_labels": _LABELS,
            "notice": _notice(request),
        },
        session=session,
    )


@router.post("/exporters/{ref}/run")
async def run_exporter(
    request: Request, ref: str, exporters: Exporters, worker: Worker
) -> Response:
    session, _form = await require_post(request)
    try:
        view = await anyio.to_thread.run_sync(exporters.get, ref)
    except NotFoundError:
        return _not_found(session, "exporter")
    await worker.run_export(view["id"], "manual")
    return redirect(f"{PREFIX}/exporters/{view['id']}")


@router.post("/exporters/{ref}/delete")
async def delete_exporter(request: Request, ref: str, exporters: Exporters) -> Response:
    session, _form = await require_post(request)
    actor = ui_actor(request, session)
    try:
        await anyio.to_thread.run_sync(lambda: exporters.delete(ref, actor=actor))
    except NotFoundError:
        return _not_found(session, "exporter")
    return redirect(f"{PREFIX}/exporters?notice=deleted")
