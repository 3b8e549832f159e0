"""Administration → Connector credentials: list, new, edit (secrets masked), delete, test.

The pages talk to storage through :class:`ConnectorCredentialStore`, found at
``container.connector_credentials``; they validate nothing themselves beyond shaping the form into
the input :func:`credgate.connectors.credentials.validate_create` reads, and they show every
:class:`CredentialValidationError` in the error box at the top.

Secrets never travel back to the browser: an edit form shows :data:`MASK` in their place (sent
back unchanged, the stored value is kept), and a form refused for another field comes back with
its secret inputs empty, not with what was typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse

from credgate.connectors.credentials import (
    ALLOWED_AUTH_TYPES,
    AUTH_FIELDS,
    MASK,
    AuthType,
    CredentialValidationError,
)
from credgate.connectors.credentials import (
    Protocol as ConnectorProtocol,
)
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.web.pages import (
    PREFIX,
    UiSession,
    container_of,
    field_errors,
    form_text,
    redirect,
    render,
    require_post,
    require_session,
    ui_actor,
)

__all__ = [
    "AUTH_TYPE_LABELS",
    "FIELD_HELP",
    "PAGE_SIZE",
    "ConnectorCredentialPage",
    "ConnectorCredentialStore",
    "ConnectorCredentialTester",
    "ConnectorCredentialView",
    "TestVerdict",
    "form_to_input",
    "router",
]

router = APIRouter(prefix=f"{PREFIX}/connector-credentials", include_in_schema=False)

PAGE_SIZE = 50
AUTH_TYPE_LABELS: Mapping[AuthType, str] = {
    AuthType.NONE: "No auth",
    AuthType.BASIC: "Basic",
    AuthType.BEARER: "Bearer token",
    AuthType.OAUTH2_CLIENT_CREDENTIALS: "OAuth 2.0 - Client credentials",
    AuthType.OAUTH2_AUTHORIZATION_CODE: "OAuth 2.0 - Authorization code",
}
PROTOCOL_LABELS: Mapping[ConnectorProtocol, str] = {
    ConnectorProtocol.HTTPS: "HTTPS (Hypertext Transfer Protocol Secure)",
    ConnectorProtocol.SFTP: "SFTP (Secure File Transfer Protocol)",
}


@dataclass(frozen=True, slots=True)
class FieldHelp:
    label: str
    help: str
    widget: str = "text"  # text | password | textarea


#: Label, help text and input of each authorization field, by field name.
FIELD_HELP: Mapping[str, FieldHelp] = {
    "username": FieldHelp("Username", "The account credgate signs in as."),
    "password": FieldHelp("Password", "Kept encrypted; shown masked once saved.", "password"),
    "token": FieldHelp(
        "Token", "The API token the third-party tool generated; sent in the header.", "password"
    ),
    "header_prefix": FieldHelp(
        "Header prefix",
        "Precedes the token in the Authorization header. Left empty, it is Bearer.",
    ),
    "client_id": FieldHelp("Client ID", "The client identifier the third-party tool issued."),
    "client_secret": FieldHelp(
        "Client secret", "Kept encrypted; shown masked once saved.", "password"
    ),
    "authorization_url": FieldHelp(
        "Authorization code URL",
        "Where the administrator grants consent, an https:// URL with a path, for example "
        "https://login.example.com/oauth2/authorize.",
    ),
    "access_token_url": FieldHelp(
        "Access token URL",
        "Where credgate obtains and renews tokens, an https:// URL with a path, for example "
        "https://login.example.com/oauth2/token.",
    ),
    "scope": FieldHelp(
        "Scope", "Optional. Scope values separated by spaces, for example read write."
    ),
    "host_key": FieldHelp(
        "SFTP server host key",
        "The server's public key as one line of ssh-keyscan output without the host name, "
        "starting with ecdsa-sha2 or ssh-rsa (for example ecdsa-sha2-nistp256 AAAA…). A "
        "fingerprint such as da:47:93:… is not accepted.",
        "textarea",
    ),
}
_LABELS = {
    "name": "Name",
    "protocol": "Protocol",
    "url": "URL",
    "authorization": "Authorization",
    "authorization.type": "Authorization type",
    "": "Form",
}
_FIELD_MAX = 16384  # no form field is longer; a longer one is refused before validation


class ConnectorCredentialView(Protocol):
    """A stored connector credential as the pages show it: ``masked`` is the input shape with
    every secret replaced by :data:`MASK` (see :func:`credgate.connectors.credentials.masked_view`).
    """

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def masked(self) -> Mapping[str, Any]: ...

    @property
    def updated_at(self) -> dt.datetime: ...

    @property
    def redirect_url(self) -> str | None: ...

    @property
    def last_test_ok(self) -> bool | None: ...

    @property
    def last_test_detail(self) -> str: ...

    @property
    def status(self) -> str: ...


class ConnectorCredentialPage(Protocol):
    @property
    def total(self) -> int: ...

    @property
    def items(self) -> Sequence[ConnectorCredentialView]: ...


class ConnectorCredentialStore(Protocol):
    """What the pages need from connector-credential storage (``container.connector_credentials``).

    ``create`` and ``update`` take the input shape of
    :func:`credgate.connectors.credentials.validate_create` and report every bad field at once
    (:class:`InvalidInputError`, or :class:`CredentialValidationError`), a taken name with
    :class:`ConflictError`; ``get``, ``update`` and ``delete`` raise :class:`NotFoundError`.
    """

    def list(self, *, offset: int = 0, limit: int = 50) -> ConnectorCredentialPage: ...

    def get(self, credential_id: str) -> ConnectorCredentialView: ...

    def create(self, data: object, *, actor: Actor) -> ConnectorCredentialView: ...

    def update(
        self, credential_id: str, data: object, *, actor: Actor
    ) -> ConnectorCredentialView: ...

    def delete(self, credential_id: str, *, actor: Actor) -> None: ...


@dataclass(frozen=True, slots=True)
class TestVerdict:
    ok: bool
    message: str


class ConnectorCredentialTester(Protocol):
    """Reaches the host of a credential and authenticates (``container.connector_tester``).

    The verdict's message never holds a secret. Without a tester, the Test button is hidden.
    """

    def test(self, credential_id: str) -> TestVerdict: ...


def _store(request: Request) -> ConnectorCredentialStore | None:
    store: ConnectorCredentialStore | None = getattr(
        container_of(request), "connector_credentials", None
    )
    return store


class _ConnectionsTester:
    """The Test button on the connection container (``container.connections``), which reaches the
    host, authenticates and records the verdict on the credential."""

    def __init__(self, connections: Any) -> None:
        self._connections = connections

    def test(self, credential_id: str) -> TestVerdict:
        # Called from a worker thread: run the asynchronous check on the event loop.
        verdict = anyio.from_thread.run(self._connections.test, credential_id)
        return TestVerdict(ok=verdict.ok, message=verdict.detail)


def _tester(request: Request) -> ConnectorCredentialTester | None:
    container = container_of(request)
    tester: ConnectorCredentialTester | None = getattr(container, "connector_tester", None)
    if tester is None and getattr(container, "connections", None) is not None:
        tester = _ConnectionsTester(container.connections)
    return tester


def form_to_input(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as the validation's input: only the fields of the chosen type.

    Inputs of the other types may still be in the form (hidden); they are left out here, so a
    value typed under one type and then hidden never reaches another.
    """
    protocol = form.get("protocol", "").strip().upper()
    auth_type = form.get("auth_type", "").strip().upper()
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "protocol": protocol,
        "url": form.get("url", ""),
    }
    authorization: dict[str, str] = {"type": auth_type}
    try:
        specs = AUTH_FIELDS[(ConnectorProtocol(protocol), AuthType(auth_type))]
    except (ValueError, KeyError):
        specs = ()
    for spec in specs:
        value = form.get(spec.name, "")
        if value != "" or spec.required:
            authorization[spec.name] = value
    data["authorization"] = authorization
    return data


def _flat(form: FormData) -> dict[str, str]:
    names = {"name", "protocol", "url", "auth_type", *FIELD_HELP}
    return {name: form_text(form, name) for name in names}


def _values_of(record: ConnectorCredentialView | None) -> dict[str, str]:
    values = dict.fromkeys(("name", "url", *FIELD_HELP), "")
    values["protocol"] = ConnectorProtocol.HTTPS.value
    values["auth_type"] = AuthType.NONE.value
    values["header_prefix"] = "Bearer"
    if record is not None:
        view = record.masked
        values.update(
            name=view["name"],
            protocol=view["protocol"],
            url=view["url"],
            auth_type=view["authorization"]["type"],
        )
        for key, value in view["authorization"].items():
            if key != "type":
                values[key] = str(value)
    return values


def _kept_values(flat: dict[str, str]) -> dict[str, str]:
    """What a refused form shows again: everything typed, except secrets (the mask stays)."""
    kept = dict(flat)
    for name, help_ in FIELD_HELP.items():
        if help_.widget == "password" and kept.get(name) != MASK:
            kept[name] = ""
    return kept


def _error_label(field: str, protocol: str) -> str:
    if field == "url" and protocol == ConnectorProtocol.SFTP.value:
        return "Hostname"
    if field in _LABELS:
        return _LABELS[field]
    name = field.removeprefix("authorization.")
    return FIELD_HELP[name].label if name in FIELD_HELP else field


def _input_id(field: str) -> str:
    name = field.removeprefix("authorization.")
    if name == "type":
        return "f-auth_type"
    return f"f-{name}" if name in FIELD_HELP or name in ("name", "protocol", "url") else "f-name"


def _form_page(
    request: Request,
    session: UiSession,
    values: dict[str, str],
    *,
    record: ConnectorCredentialView | None,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    boxed = [
        {
            **e,
            "label": _error_label(e["field"], values.get("protocol", "")),
            "input": _input_id(e["field"]),
        }
        for e in errors or []
    ]
    bad = {e["input"].removeprefix("f-") for e in boxed}
    # Which (protocol, type) pairs show each field, for the script and for the no-script view.
    shown_by: dict[str, list[str]] = {name: [] for name in FIELD_HELP}
    for (protocol, auth_type), specs in AUTH_FIELDS.items():
        for spec in specs:
            shown_by[spec.name].append(f"{protocol.value}:{auth_type.value}")
    context = {
        "nav": "connectors",
        "values": values,
        "errors": boxed,
        "bad": bad,
        "record": record,
        "field_help": FIELD_HELP,
        "shown_by": shown_by,
        "required": {
            spec.name for specs in AUTH_FIELDS.values() for spec in specs if spec.required
        },
        "protocols": PROTOCOL_LABELS,
        "auth_types": {
            protocol.value: [(t.value, AUTH_TYPE_LABELS[t]) for t in types]
            for protocol, types in ALLOWED_AUTH_TYPES.items()
        },
        "current": f"{values.get('protocol', '')}:{values.get('auth_type', '')}",
        "redirect_url": record.redirect_url if record is not None else None,
        "notice": _NOTICES.get(request.query_params.get("notice", ""), ""),
        "mask": MASK,
    }
    return render("connector_credential_form.html", context, session=session, status=status)


def _unavailable(session: UiSession) -> Response:
    return render(
        "connector_credentials.html",
        {"nav": "connectors", "available": False, "verdict": None},
        session=session,
    )


_NOTICES = {
    "created": "Connector credential saved.",
    "updated": "Connector credential saved.",
    "deleted": "Connector credential deleted.",
    "connect": "Connector credential saved. Register its redirect URL, shown below, at the "
    "third-party tool.",
}


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


async def _list_page(
    request: Request,
    session: UiSession,
    store: ConnectorCredentialStore,
    verdict: tuple[str, TestVerdict] | None = None,
) -> Response:
    number = _page_number(request)
    page = await anyio.to_thread.run_sync(
        lambda: store.list(offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    )
    context = {
        "nav": "connectors",
        "available": True,
        "records": page.items,
        "total": page.total,
        "page": number,
        "pages": max(1, -(-page.total // PAGE_SIZE)),
        "auth_labels": {t.value: label for t, label in AUTH_TYPE_LABELS.items()},
        "notice": _NOTICES.get(request.query_params.get("notice", ""), ""),
        "verdict": verdict,
        "can_test": _tester(request) is not None,
    }
    return render("connector_credentials.html", context, session=session)


@router.get("")
async def list_connector_credentials(request: Request) -> Response:
    session = await require_session(request)
    store = _store(request)
    if store is None:
        return _unavailable(session)
    return await _list_page(request, session, store)


@router.get("/new")
async def new_connector_credential(request: Request) -> Response:
    session = await require_session(request)
    if _store(request) is None:
        return _unavailable(session)
    return _form_page(request, session, _values_of(None), record=None)


def _too_long(flat: dict[str, str]) -> list[dict[str, str]]:
    return field_errors(
        [
            FieldError(name, f"must be at most {_FIELD_MAX} characters")
            for name, value in flat.items()
            if len(value) > _FIELD_MAX
        ]
    )


@router.post("")
async def create_connector_credential(request: Request) -> Response:
    session, form = await require_post(request)
    store = _store(request)
    if store is None:
        return _unavailable(session)
    flat = _flat(form)
    errors = _too_long(flat)
    if not errors:
        data = form_to_input(flat)
        actor = ui_actor(request, session)
        try:
            created = await anyio.to_thread.run_sync(lambda: store.create(data, actor=actor))
        except (CredentialValidationError, ConflictError, InvalidInputError) as exc:
            errors = field_errors(exc.errors)
        else:
            if created.redirect_url:  # the administrator registers it at the third party next
                return redirect(f"{PREFIX}/connector-credentials/{created.id}?notice=connect")
            return redirect(f"{PREFIX}/connector-credentials?notice=created")
    return _form_page(request, session, _kept_values(flat), record=None, errors=errors, status=422)


async def _record(store: ConnectorCredentialStore, credential_id: str) -> Any:
    try:
        return await anyio.to_thread.run_sync(store.get, credential_id)
    except NotFoundError:
        return None


def _not_found(session: UiSession) -> Response:
    return render(
        "error.html",
        {
            "title": "Not found",
            "message": "There is no connector credential with this id. It may be deleted.",
        },
        session=session,
        status=404,
    )


@router.get("/{credential_id}")
async def edit_connector_credential(request: Request, credential_id: str) -> Response:
    session = await require_session(request)
    store = _store(request)
    if store is None:
        return _unavailable(session)
    record = await _record(store, credential_id)
    if record is None:
        return _not_found(session)
    return _form_page(request, session, _values_of(record), record=record)


@router.post("/{credential_id}")
async def update_connector_credential(request: Request, credential_id: str) -> Response:
    session, form = await require_post(request)
    store = _store(request)
    if store is None:
        return _unavailable(session)
    record = await _record(store, credential_id)
    if record is None:
        return _not_found(session)
    flat = _flat(form)
    errors = _too_long(flat)
    if not errors:
        data = form_to_input(flat)
        actor = ui_actor(request, session)
        try:
            await anyio.to_thread.run_sync(lambda: store.update(credential_id, data, actor=actor))
        except NotFoundError:
            return _not_found(session)
        except (CredentialValidationError, ConflictError, InvalidInputError) as exc:
            errors = field_errors(exc.errors)
        else:
            return redirect(f"{PREFIX}/connector-credentials?notice=updated")
    return _form_page(
        request, session, _kept_values(flat), record=record, errors=errors, status=422
    )


@router.post("/{credential_id}/delete")
async def delete_connector_credential(request: Request, credential_id: str) -> Response:
    session, _form = await require_post(request)
    store = _store(request)
    if store is None:
        return _unavailable(session)
    actor = ui_actor(request, session)
    try:
        await anyio.to_thread.run_sync(lambda: store.delete(credential_id, actor=actor))
    except NotFoundError:
        return _not_found(session)
    return redirect(f"{PREFIX}/connector-credentials?notice=deleted")


@router.post("/{credential_id}/connect")
async def connect_connector_credential(request: Request, credential_id: str) -> Response:
    """Start the consent round-trip of an authorization-code credential: off to the provider."""
    session, _form = await require_post(request)
    connections = getattr(container_of(request), "connections", None)
    store = _store(request)
    if store is None or connections is None:
        return _unavailable(session)
    record = await _record(store, credential_id)
    if record is None:
        return _not_found(session)
    try:
        url = await anyio.to_thread.run_sync(connections.start_consent, credential_id)
    except (NotFoundError, InvalidInputError):
        return _not_found(session)
    return RedirectResponse(url, status_code=303)


@router.post("/{credential_id}/test")
async def test_connector_credential(request: Request, credential_id: str) -> Response:
    session, _form = await require_post(request)
    store, tester = _store(request), _tester(request)
    if store is None or tester is None:
        return _unavailable(session)
    record = await _record(store, credential_id)
    if record is None:
        return _not_found(session)
    try:
        verdict = await anyio.to_thread.run_sync(tester.test, credential_id)
    except NotFoundError:
        return _not_found(session)
    return await _list_page(request, session, store, (record.name, verdict))
