"""Administration → Connector credentials: list, new, edit (secrets masked), delete, test,
connect.

Thin views over :class:`ConnectorCredentialService` and :class:`Connections` (the Test and
Connect buttons). They validate nothing themselves beyond shaping the form into the input
:func:`credgate.connectors.credentials.validate_create` reads, and they show every error the
service reports in the error box at the top.

Secrets never travel back to the browser: an edit form shows :data:`MASK` in their place (sent
back unchanged, the stored value is kept), and a form refused for another field comes back with
its secret inputs empty, not with what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse

from credgate.connectors.connections import Connections
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
from credgate.connectors.credentials.services import ConnectorCredentialService, CredentialView
from credgate.connectors.sftp import Verdict
from credgate.core.errors import FieldError, InvalidInputError
from credgate.core.services import provided
from credgate.web.pages import (
    PREFIX,
    PageNotFound,
    PostedForm,
    UiSession,
    add_delete_route,
    field_errors,
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
    "AUTH_TYPE_LABELS",
    "FIELD_HELP",
    "TEMPLATES",
    "form_to_input",
    "router",
]

TEMPLATES = "credgate.connectors"
"""The package whose ``templates/`` folder holds these pages' templates."""

router = APIRouter(prefix=f"{PREFIX}/connector-credentials", include_in_schema=False)

Credentials = Annotated[ConnectorCredentialService, Depends(provided(ConnectorCredentialService))]
Connected = Annotated[Connections, Depends(provided(Connections))]

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


def _values_of(record: CredentialView | None) -> dict[str, str]:
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
    record: CredentialView | None,
    errors: Sequence[FieldError] = (),
    status: int = 200,
) -> Response:
    boxed = [
        {
            **e,
            "label": _error_label(e["field"], values.get("protocol", "")),
            "input": _input_id(e["field"]),
        }
        for e in field_errors(errors)
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
        "protocols": [(p.value, label) for p, label in PROTOCOL_LABELS.items()],
        "auth_types": {
            protocol.value: [(t.value, AUTH_TYPE_LABELS[t]) for t in types]
            for protocol, types in ALLOWED_AUTH_TYPES.items()
        },
        "current": f"{values.get('protocol', '')}:{values.get('auth_type', '')}",
        "redirect_url": record.redirect_url if record is not None else None,
        "notice": _NOTICES.get(request.query_params.get("notice", ""), ""),
        "mask": MASK,
    }
    consent_page = record.masked["authorization"].get("authorization_url") if record else None
    return render(
        "connectors/connector_credential_form.html",
        context,
        session=session,
        status=status,
        form_targets=[str(consent_page)] if consent_page else (),
    )


_NOTICES = {
    "created": "Connector credential saved.",
    "updated": "Connector credential saved.",
    "deleted": "Connector credential deleted.",
    "connect": "Connector credential saved. Register its redirect URL, shown below, at the "
    "third-party tool.",
}


async def _list_page(
    request: Request,
    session: UiSession,
    credentials: ConnectorCredentialService,
    verdict: tuple[str, Verdict] | None = None,
) -> Response:
    listing, errors = await list_view(request, "/connector-credentials", credentials.page)
    page = listing.page
    context = {
        "nav": "connectors",
        "listing": listing,
        "records": page.items,
        "errors": errors,
        "auth_labels": {t.value: label for t, label in AUTH_TYPE_LABELS.items()},
        "notice": _NOTICES.get(request.query_params.get("notice", ""), ""),
        "verdict": verdict,
    }
    # Connect posts here and is answered with a redirect to the provider's consent page.
    consent_pages = [
        str(r.masked["authorization"].get("authorization_url", ""))
        for r in page.items
        if r.masked["authorization"]["type"] == AuthType.OAUTH2_AUTHORIZATION_CODE.value
    ]
    return render(
        "connectors/connector_credentials.html",
        context,
        session=session,
        status=422 if errors else 200,
        form_targets=consent_pages,
    )


@router.get("")
async def list_connector_credentials(request: Request, credentials: Credentials) -> Response:
    session = await require_session(request)
    return await _list_page(request, session, credentials)


@router.get("/new")
async def new_connector_credential(request: Request) -> Response:
    session = await require_session(request)
    return _form_page(request, session, _values_of(None), record=None)


_WHAT = "connector credential"
_REFUSED = (CredentialValidationError,)


@router.post("")
async def create_connector_credential(request: Request, credentials: Credentials) -> Response:
    posted: PostedForm[None, CredentialView] = await post_form(
        request,
        _WHAT,
        lambda form, actor: credentials.create(form_to_input(_flat(form)), actor=actor),
        refused=_REFUSED,
    )
    if posted.saved is None:
        kept = _kept_values(_flat(posted.form))
        return _form_page(
            request, posted.session, kept, record=None, errors=posted.errors, status=422
        )
    if posted.saved.redirect_url:  # the administrator registers it at the third party next
        return redirect(f"{PREFIX}/connector-credentials/{posted.saved.id}?notice=connect")
    return redirect(f"{PREFIX}/connector-credentials?notice=created")


@router.get("/{credential_id}")
async def edit_connector_credential(
    request: Request, credential_id: str, credentials: Credentials
) -> Response:
    session = await require_session(request)
    record = await get_or_404(credentials.get, credential_id, _WHAT)
    return _form_page(request, session, _values_of(record), record=record)


@router.post("/{credential_id}")
async def update_connector_credential(
    request: Request, credential_id: str, credentials: Credentials
) -> Response:
    posted = await post_form(
        request,
        _WHAT,
        lambda form, actor: credentials.update(
            credential_id, form_to_input(_flat(form)), actor=actor
        ),
        lambda: credentials.get(credential_id),
        _REFUSED,
    )
    if posted.errors:
        kept = _kept_values(_flat(posted.form))
        return _form_page(
            request, posted.session, kept, record=posted.record, errors=posted.errors, status=422
        )
    return redirect(f"{PREFIX}/connector-credentials?notice=updated")


add_delete_route(
    router,
    "/{credential_id}/delete",
    ConnectorCredentialService,
    f"{PREFIX}/connector-credentials?notice=deleted",
    _WHAT,
)


@router.post("/{credential_id}/connect")
async def connect_connector_credential(
    request: Request, credential_id: str, connections: Connected
) -> Response:
    """Start the consent round-trip of an authorization-code credential: off to the provider."""
    await require_post(request)
    try:
        with missing(_WHAT):
            url = await anyio.to_thread.run_sync(connections.start_consent, credential_id)
    except InvalidInputError:
        raise PageNotFound(_WHAT) from None
    return RedirectResponse(url, status_code=303)


@router.post("/{credential_id}/test")
async def test_connector_credential(
    request: Request, credential_id: str, credentials: Credentials, connections: Connected
) -> Response:
    """Reach the host and authenticate; the verdict is kept on the credential and shown."""
    session, _form = await require_post(request)
    record = await get_or_404(credentials.get, credential_id, _WHAT)
    with missing(_WHAT):
        verdict = await connections.test(credential_id)
    return await _list_page(request, session, credentials, (record.name, verdict))
