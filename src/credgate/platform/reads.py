"""The platform reads (workflow and remote-action lists and details) as lean ASGI routes.

The framework's dependency injection, request object and per-item model dumps cost several times
what the bearer check does, for an answer that only changes when an administrator changes a
definition. So :mod:`credgate.app` consults :attr:`PlatformReads.routes` by exact path before the
framework (as it does for the token endpoint), and each answer is JSON bytes rendered once per
snapshot of the definitions cache: a change to a kind replaces its snapshot (at once on the node
that made it, at the next change-log poll on the others), and with it every body rendered from it.

Only the common case is answered here: ``GET`` of a family served from credgate's own store
whose definitions are cached. Anything else (another method, an upstream to relay to, a cold
cache that needs the database) is handed to the framework's route of the same path, which stays
the one definition of the behaviour and of the OpenAPI document. Rate limits and request-body
limits apply before either (:mod:`credgate.core.ingress`, :mod:`credgate.core.ratelimits`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from starlette.datastructures import QueryParams

from credgate.core.asgi import ASGIApp, Receive, Scope, Send, header
from credgate.core.config import Settings
from credgate.core.paths import PROTECTED
from credgate.oauth.errors import OAuth2Error
from credgate.oauth.rfc6750 import ACCEPTED
from credgate.oauth.rfc9068 import VerifiedToken
from credgate.platform.definitions import (
    DefinitionService,
    Kind,
    StoredDefinition,
    to_remote_action,
    to_workflow,
)
from credgate.platform.routes import REMOTE_ACTIONS, WORKFLOWS, Family, bearer_failure
from credgate.platform.schemas import remote_actions, workflows
from credgate.platform.schemas._common import RequestError

__all__ = ["Guard", "PlatformReads"]

_NO_STORE: Final = (b"cache-control", b"no-store")
_JSON: Final = (b"content-type", b"application/json")


class Guard(Protocol):
    """What a read needs of :class:`credgate.oauth.rfc6750.BearerGuard`."""

    def authorize(
        self, authorization: str | bytes | None, permission: str | None
    ) -> Awaitable[VerifiedToken]: ...


Snapshot = Mapping[str, StoredDefinition]
Rendered = tuple[str | None, Callable[[], object]]
"""The key its body is kept under (None: not kept) and what makes the body."""
Render = Callable[[str, Snapshot, Mapping[str, str]], Rendered]
"""From the path, a snapshot and the query: the key the body is kept under (``None``: not
kept), and what makes the body; or raises :class:`RequestError`. Keys are few per snapshot (a
filter-free list, an existing definition's details), so what is kept stays bounded whatever
query strings callers send."""

_NO_FILTERS: Final = workflows.ListFilters()


def _encode(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


_bits = random.getrandbits
_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)


def _new_request_id() -> bytes:
    """A random version 4 UUID, as ``uuid.uuid4()`` spells it.

    A request id correlates log lines; it guards nothing, so it needs no operating-system
    randomness, whose system call cost this route more than everything else it does.
    """
    x = f"{_bits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}".encode()


def _request_id(scope: Scope) -> bytes:
    # As the framework routes answer it: the caller's value (trimmed, at most 200 characters) or
    # a new one.
    raw = header(scope, b"x-request-id")
    if raw is None:
        return _new_request_id()
    value = raw.decode("latin-1").strip()
    return value[:200].encode("latin-1") if value else _new_request_id()


def _find(snapshot: Snapshot, key: str) -> StoredDefinition | None:
    found = snapshot.get(key)
    if found is not None:
        return found
    return next((d for d in snapshot.values() if d.uuid == key), None)


def _workflow_list(path: str, snapshot: Snapshot, query: Mapping[str, str]) -> Rendered:
    filters = workflows.parse_list_filters(query)

    def make() -> object:
        items = (to_workflow(d) for d in snapshot.values())
        return [workflows.workflow_body(w) for w in items if w.matches(filters)]

    return (path if filters == _NO_FILTERS else None, make)


@dataclass(frozen=True, slots=True)
class _Details:
    """A details read: the one definition its query names, its body kept per definition."""

    parse: Callable[[Mapping[str, str]], str]
    missing: Callable[[str], RequestError]
    body: Callable[[StoredDefinition], object]

    def __call__(self, path: str, snapshot: Snapshot, query: Mapping[str, str]) -> Rendered:
        nql_id = self.parse(query)
        found = _find(snapshot, nql_id)
        if found is None:
            raise self.missing(nql_id)
        return (f"{path}?{found.key}", lambda: self.body(found))


_workflow_details = _Details(
    workflows.parse_details_query,
    lambda nql_id: WORKFLOWS.fail(400, "NOT_FOUND", f"nqlId: no workflow {nql_id!r}"),
    lambda found: [workflows.workflow_body(to_workflow(found))],
)


def _remote_action_list(path: str, snapshot: Snapshot, _query: Mapping[str, str]) -> Rendered:
    def make() -> object:
        return [remote_actions.remote_action_body(to_remote_action(d)) for d in snapshot.values()]

    return (path, make)


_remote_action_details = _Details(
    remote_actions.parse_details_query,
    lambda nql_id: REMOTE_ACTIONS.fail(404, "NOT_FOUND", f"nql-id: no remote action {nql_id!r}"),
    lambda found: remote_actions.remote_action_body(to_remote_action(found)),
)


class _Bodies:
    """The bodies rendered from one snapshot of a kind, by query."""

    __slots__ = ("bodies", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.bodies: dict[str, bytes] = {}


class _Read:
    """One read route: its family, definition kind, permission and renderer."""

    __slots__ = ("_family", "_kind", "_owner", "_permission", "_render", "_upstream_setting")

    def __init__(
        self, owner: PlatformReads, path: str, family: Family, kind: Kind, render: Render
    ) -> None:
        self._owner = owner
        self._family = family
        self._kind = kind
        self._render = render
        self._permission = PROTECTED.permission_of(path)
        self._upstream_setting = family.upstream_setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = self._owner
        snapshot = owner.definitions.snapshot(self._kind)
        if (
            snapshot is None
            or scope["method"] != "GET"
            or getattr(owner.settings, self._upstream_setting) is not None
        ):
            await owner.fallback(scope, receive, send)
            return
        request_id = _request_id(scope)
        accepted = scope.get(ACCEPTED)
        if accepted is None or accepted[0] != self._permission:
            try:
                await owner.guard.authorize(header(scope, b"authorization"), self._permission)
            except OAuth2Error as exc:
                status, headers, content = bearer_failure(scope["path"], exc)
                headers += [(b"x-request-id", request_id), _NO_STORE]
                await _send(send, status, content, headers)
                return
        try:
            status, content = 200, owner.body(self._kind, snapshot, scope, self._render)
        except RequestError as exc:
            status, content = exc.status, _encode(exc.body)
        await _send(send, status, content, [(b"x-request-id", request_id), _NO_STORE])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers += [(b"content-length", str(len(body)).encode()), _JSON]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(eq=False, kw_only=True)
class PlatformReads:
    """Exact-path routes for the platform reads; ``fallback`` answers what they leave."""

    guard: Guard
    definitions: DefinitionService
    settings: Settings = field(repr=False)
    fallback: ASGIApp
    routes: dict[str, ASGIApp] = field(init=False)
    _bodies: dict[str, _Bodies] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        reads: tuple[tuple[str, Family, Kind, Render], ...] = (
            ("/api/v1/workflows", WORKFLOWS, "workflow", _workflow_list),
            ("/api/v1/workflows/details", WORKFLOWS, "workflow", _workflow_details),
            ("/api/v1/act/remote-action", REMOTE_ACTIONS, "remote_action", _remote_action_list),
            (
                "/api/v1/act/remote-action/details",
                REMOTE_ACTIONS,
                "remote_action",
                _remote_action_details,
            ),
        )
        self.routes = {
            path: _Read(self, path, family, kind, render) for path, family, kind, render in reads
        }

    def body(self, kind: Kind, snapshot: Snapshot, scope: Scope, render: Render) -> bytes:
        """The JSON body of a read, from the bodies kept for ``snapshot`` when it is there."""
        kept = self._bodies.get(kind)
        if kept is None or kept.snapshot is not snapshot:
            # A new snapshot (the kind changed): what was rendered from the old one goes with it.
            kept = self._bodies[kind] = _Bodies(snapshot)
        path: str = scope["path"]
        raw_query: bytes = scope["query_string"]
        if not raw_query:  # the common case, a filter-free list: no parsing at all
            found = kept.bodies.get(path)
            if found is not None:
                return found
        query: Mapping[str, str] = QueryParams(raw_query) if raw_query else {}
        key, make = render(path, snapshot, query)
        if key is None:
            return _encode(make())
        found = kept.bodies.get(key)
        if found is None:
            found = kept.bodies[key] = _encode(make())
        return found
