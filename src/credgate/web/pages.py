"""The shared layer of the administration pages: templates, browser sessions, CSRF and headers.

Each feature owns its pages (``<feature>/pages.py``) and their templates
(``<feature>/templates/<feature>/*.html``, named ``"<feature>/x.html"``); the application lists the
features whose templates :func:`render` may load (:func:`install_page_handlers`). This module
knows no feature: it checks sessions through :class:`AdminSessions`, which the container provides
(:mod:`credgate.core.services`).

Browser sessions reuse the admin accounts: the session id lives in an ``HttpOnly`` cookie,
``SameSite=Lax``, ``Secure`` when the public URL is https. Every form carries a CSRF token in a
hidden field, checked against the hash kept with the session (:meth:`AdminSessions.check_csrf`);
only the hash is stored, so the page reads the plaintext token from a second ``HttpOnly`` cookie
set at sign-in. A cross-site page can neither read that cookie nor the token in a form, so it
cannot forge a post (OWASP "synchronizer token" pattern). The sign-in form, before any session
exists, uses a double-submit cookie instead.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.staticfiles import StaticFiles

from credgate.core import proxies
from credgate.core.asgi import BodyTooLarge
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.db import utcnow
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.core.paging import Page, PageRequest
from credgate.core.services import APP_STATE_SERVICES, Services, protocol
from credgate.web.api import SESSION_COOKIE
from credgate.web.sessions import AdminSessions, SignedIn

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "LOGIN_CSRF_COOKIE",
    "PAGE_SIZES",
    "PREFIX",
    "AdminSessions",
    "CsrfRefused",
    "FormTooLarge",
    "Listing",
    "LoginRequired",
    "PageNotFound",
    "PostedForm",
    "SignedIn",
    "UiSession",
    "act_posted",
    "add_delete_route",
    "add_templates",
    "age",
    "check_login_csrf",
    "client_address",
    "field_errors",
    "form_list",
    "form_text",
    "get_or_404",
    "install_page_handlers",
    "list_request",
    "list_view",
    "missing",
    "new_login_csrf",
    "post_form",
    "read_form",
    "redirect",
    "render",
    "require_post",
    "require_session",
    "submitted",
    "ui_actor",
]

PREFIX = "/admin"

T = TypeVar("T")
R = TypeVar("R")
CSRF_COOKIE = "credgate_csrf"
LOGIN_CSRF_COOKIE = "credgate_login_csrf"
CSRF_FIELD = "csrf_token"
_HERE = Path(__file__).parent

# No inline script or style anywhere: the policy forbids them, so injected markup cannot run.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'{extra}; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP.format(extra=""),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages may show secrets once and always show administrative data: never keep them.
    "Cache-Control": "no-store",
}


def _moment(value: dt.datetime | str | None) -> dt.datetime | None:
    """Services answer datetimes or their ISO texts (the REST views); the pages take both."""
    if value is None or value == "":
        return None
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _age(value: dt.datetime | str | None, now: dt.datetime | None = None) -> str:
    moment = _moment(value)
    if moment is None:
        return ""
    seconds = abs(int(((now or utcnow()) - moment).total_seconds()))
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "just now"  # pragma: no cover


age = _age


def _ago(value: dt.datetime | str | None, now: dt.datetime | None = None) -> str:
    """ "3 minutes ago", or "in 5 hours" for a moment to come."""
    moment = _moment(value)
    text = _age(moment, now)
    if text in ("", "just now") or moment is None:
        return text
    return f"in {text}" if moment > (now or utcnow()) else f"{text} ago"


def _datetime(value: dt.datetime | str | None) -> str:
    moment = _moment(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _iso(value: dt.datetime | str | None) -> str:
    moment = _moment(value)
    return moment.isoformat() if moment else ""


def _or_dash(value: object) -> object:
    """An absent value as an em dash, so that an empty cell reads as "none", not as a fault."""
    return "—" if value is None or value == "" else value


_template_packages = ["credgate.web"]
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("credgate.web"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["age"] = _age
_env.filters["ago"] = _ago
_env.filters["datetime"] = _datetime
_env.filters["iso"] = _iso
_env.filters["or_dash"] = _or_dash
_env.globals["prefix"] = PREFIX


def add_templates(packages: Iterable[str]) -> None:
    """Let :func:`render` load the templates of these packages (each one's ``templates/``
    folder, whose templates are named ``"<feature>/x.html"``). Adding one twice is harmless."""
    added = [p for p in dict.fromkeys(packages) if p not in _template_packages]
    if added:
        _template_packages.extend(added)
        _env.loader = jinja2.ChoiceLoader([jinja2.PackageLoader(p) for p in _template_packages])


@dataclass(frozen=True, slots=True)
class UiSession:
    admin: SignedIn
    csrf_token: str


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


class FormTooLarge(Exception):
    """A form body over the pages' limit: refused with 413 before it is parsed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a form may hold at most {limit} bytes")
        self.limit = limit


class CsrfRefused(Exception):
    """A post without the right CSRF token: refused with 403, nothing changed."""


class PageNotFound(Exception):
    """A page names something that does not exist (any more): answered with a 404 page."""

    def __init__(self, what: str, gone: str = "deleted") -> None:
        super().__init__(f"There is no {what} with this id. It may be {gone}.")
        self.message = str(self)


def _services(request: Request) -> Services:
    services: Services = getattr(request.app.state, APP_STATE_SERVICES)
    return services


def _sessions(request: Request) -> AdminSessions:
    return _services(request).get(protocol(AdminSessions))


async def current_session(request: Request) -> UiSession | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    sessions = _sessions(request)
    identity = await anyio.to_thread.run_sync(sessions.check_session, session_id)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    # A session opened elsewhere (the REST API's sign-in) has no token for these forms: sign in
    # here again rather than render forms that would all be refused.
    if identity is None or not sessions.check_csrf(identity, csrf):
        return None
    return UiSession(identity, csrf)


async def require_session(request: Request) -> UiSession:
    session = await current_session(request)
    if session is None:
        raise LoginRequired
    return session


async def read_form(request: Request) -> FormData:
    """The posted form; one over the pages' body limit (:mod:`credgate.core.ingress`) is refused
    while it streams, before it is parsed."""
    try:
        return await request.form()
    except BodyTooLarge as exc:
        raise FormTooLarge(exc.limit) from None


async def require_post(request: Request) -> tuple[UiSession, FormData]:
    """A signed-in administrator's form, with its CSRF token checked."""
    session = await require_session(request)
    form = await read_form(request)
    token = form.get(CSRF_FIELD)
    if not isinstance(token, str) or not _sessions(request).check_csrf(session.admin, token):
        raise CsrfRefused
    return session, form


def check_login_csrf(request: Request, form: FormData) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD)
    if not cookie or not isinstance(sent, str) or not hmac.compare_digest(cookie, sent):
        raise CsrfRefused


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def client_address(request: Request) -> str:
    """The browser's address, read through the trusted proxies."""
    settings = _services(request).get(Settings)
    return proxies.client_address(request.scope, settings.trusted_proxies)


def ui_actor(request: Request, session: UiSession) -> Actor:
    return Actor(name=session.admin.username, source=client_address(request))


@contextmanager
def missing(what: str, gone: str = "deleted") -> Iterator[None]:
    """A service's :class:`NotFoundError` inside as the 404 page of ``what``."""
    try:
        yield
    except NotFoundError:
        raise PageNotFound(what, gone) from None


async def get_or_404(read: Callable[[str], T], ref: str, what: str) -> T:
    """``read(ref)`` off the event loop; the 404 page of ``what`` if there is none."""
    with missing(what):
        return await anyio.to_thread.run_sync(read, ref)


async def act_posted(
    request: Request, act: Callable[[Actor], object], then: str, what: str, gone: str = "deleted"
) -> Response:
    """A posted button that changes one thing (delete, revoke, replay): ``act`` runs off the
    event loop as the signed-in administrator, then the browser goes to ``then``."""
    session, _form = await require_post(request)
    actor = ui_actor(request, session)
    with missing(what, gone):
        await anyio.to_thread.run_sync(act, actor)
    return redirect(then)


class Deletable(Protocol):
    def delete(self, ref: str, /, *, actor: Actor) -> object: ...


D = TypeVar("D", bound=Deletable)


def add_delete_route(router: APIRouter, path: str, kind: type[D], then: str, what: str) -> None:
    """``POST path``, whose one path parameter is an id: the application's ``kind`` deletes
    that thing as the signed-in administrator, then the browser goes to ``then``."""

    async def delete(request: Request) -> Response:
        (ref,) = request.path_params.values()
        service = _services(request).get(kind)
        return await act_posted(request, lambda actor: service.delete(ref, actor=actor), then, what)

    router.add_api_route(path, delete, methods=["POST"])


async def submitted(
    save: Callable[[], T], what: str, refused: tuple[type[Exception], ...] = ()
) -> tuple[T | None, list[FieldError]]:
    """A form's create, update or check, off the event loop: what the service answers, or, when
    it refuses the input (:class:`InvalidInputError`, :class:`ConflictError` or one of
    ``refused``, each listing ``errors``), nothing and the fields at fault."""
    caught: tuple[type[Exception], ...] = (InvalidInputError, ConflictError, *refused)
    with missing(what):
        try:
            return await anyio.to_thread.run_sync(save), []
        except caught as exc:
            return None, list(getattr(exc, "errors", ()))


@dataclass(frozen=True, slots=True)
class PostedForm(Generic[R, T]):
    """A posted create or edit form: who posted it, what it edits (``None`` when it creates),
    what was saved (``None`` when refused) and the fields at fault."""

    session: UiSession
    form: FormData
    record: R | None
    saved: T | None
    errors: list[FieldError]


async def post_form(
    request: Request,
    what: str,
    save: Callable[[FormData, Actor], T],
    read: Callable[[], R] | None = None,
    refused: tuple[type[Exception], ...] = (),
) -> PostedForm[R, T]:
    """The flow of every create and edit form: the CSRF token checked, the edited thing read
    (``read``; the 404 page of ``what`` if it is gone), then ``save(form, actor)`` as the
    signed-in administrator, each off the event loop (see :func:`submitted`)."""
    session, form = await require_post(request)
    record = None
    if read is not None:
        with missing(what):
            record = await anyio.to_thread.run_sync(read)
    actor = ui_actor(request, session)
    saved, errors = await submitted(lambda: save(form, actor), what, refused)
    return PostedForm(session, form, record, saved, errors)


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def form_list(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    session: UiSession | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    form_targets: Iterable[str] = (),
) -> HTMLResponse:
    """A page with the pages' security headers. ``form_targets``: other origins a form of this
    page may end up at. Browsers apply ``form-action`` to every redirect a post follows, so a
    form that credgate answers with a redirect elsewhere (Connect, to the provider's consent
    page) needs that origin allowed, on that page only."""
    values: dict[str, Any] = {
        "admin": session.admin.username if session else None,
        "csrf_token": session.csrf_token if session else "",
        "errors": [],
        "notice": "",
        "nav": "",
        **context,
    }
    body = _env.get_template(template).render(values)
    sent = dict(_SECURITY_HEADERS)
    origins = sorted({_origin(t) for t in form_targets} - {""})
    if origins:
        sent["Content-Security-Policy"] = _CSP.format(extra="".join(f" {o}" for o in origins))
    return HTMLResponse(body, status_code=status, headers={**sent, **(headers or {})})


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; "" for anything else (never a wildcard)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    if any(c in url for c in " ;,'\"\r\n"):
        return ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def redirect(path: str) -> RedirectResponse:
    """303 See Other after a successful post, so a reload does not post again."""
    return RedirectResponse(path, status_code=303, headers=_SECURITY_HEADERS)


PAGE_SIZES = (25, 50, 100, 200)
"""The page sizes a list page offers (any size up to the REST maximum is accepted)."""


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page of a list page, with what its search box and pager link to."""

    base: str
    request: PageRequest
    page: Page[T]
    sizes: tuple[int, ...] = PAGE_SIZES
    keep: Mapping[str, str] = field(default_factory=dict)
    """Query parameters of the list's own (a filter) that its search box and pager carry on."""


def list_request(request: Request) -> tuple[PageRequest, list[dict[str, str]]]:
    """The page a list page asks for (``?q=&limit=&cursor=``); bad values give the first page
    and the errors that name them."""
    params = request.query_params
    try:
        return PageRequest.parse(params.get("limit"), params.get("cursor"), params.get("q")), []
    except InvalidInputError as exc:
        return PageRequest(), field_errors(exc.errors)


async def list_view(
    request: Request,
    base: str,
    read: Callable[[PageRequest], Page[T]],
    keep: Mapping[str, str] | None = None,
) -> tuple[Listing[T], list[dict[str, str]]]:
    """Read the page a list page asks for, off the event loop. ``keep``: the list's filters,
    which its search box and pager links carry on."""
    wanted, errors = list_request(request)
    page = await anyio.to_thread.run_sync(read, wanted)
    kept = {k: v for k, v in (keep or {}).items() if v}
    return Listing(base=f"{PREFIX}{base}", request=wanted, page=page, keep=kept), errors


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Service or validation errors as the error box lists them (``field`` and ``message``)."""
    return [
        {
            "field": str(e.field),
            "message": str(e.message),
            "label": str(e.field).replace("_", " ").capitalize() or "Form",
            "input": f"f-{e.field}",
        }
        for e in errors
    ]


def install_page_handlers(framework: FastAPI, templates: Iterable[str] = ()) -> None:
    """The exception handlers and the static files of the pages, and the packages whose
    templates the pages render (see :func:`add_templates`)."""
    add_templates(templates)

    @framework.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        response = redirect(f"{PREFIX}/login")
        if request.method == "GET":
            response.headers["location"] = f"{PREFIX}/login?next={request.url.path}"
        return response

    @framework.exception_handler(CsrfRefused)
    async def _csrf(_request: Request, _exc: CsrfRefused) -> Response:
        return render(
            "error.html",
            {
                "title": "Request refused",
                "message": "The form was missing its security token or the token was wrong "
                "(a form from another site, or an old page). Nothing was changed. Reload the "
                "page and try again.",
            },
            status=403,
        )

    @framework.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        session = await current_session(request)
        return render(
            "error.html",
            {"title": "Not found", "message": exc.message},
            session=session,
            status=404,
        )

    @framework.exception_handler(FormTooLarge)
    async def _too_large(_request: Request, exc: FormTooLarge) -> Response:
        return render(
            "error.html",
            {
                "title": "Form too large",
                "message": f"A form may hold at most {exc.limit // 1024} KiB. Nothing was changed.",
            },
            status=413,
        )

    framework.mount(f"{PREFIX}/static", StaticFiles(directory=_HERE / "static"), name="ui-static")
