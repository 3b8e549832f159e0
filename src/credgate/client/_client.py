"""`Client` and `AsyncClient`: typed calls to every API family over one cached token.

Both clients run the same `Operation`s from `_families` and map error responses the same way;
only the sending differs (blocking or awaited).
"""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

import httpx

from . import _families as families
from ._auth import USER_AGENT, CredgateAuth, retry_after_seconds
from ._config import ClientConfig
from ._errors import APIError, TransportError, api_error
from ._families import Operation
from ._models import ShapeError

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
P = ParamSpec("P")
TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)

VerifyTypes = ssl.SSLContext | str | bool

#: Every pooled connection may be kept alive. With fewer keep-alive slots than
#: connections, httpcore's pool can close a connection it counts as idle just as
#: another thread starts a request on it ("ReadError: Bad file descriptor"). The same limits
#: as credgate.connectors.auth.POOL_LIMITS, kept here because the SDK imports nothing else.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


def _relative_path(path: str) -> str:
    # The bearer token must only ever go to the configured API host.
    url = httpx.URL(path)
    if url.is_absolute_url or not path.startswith("/"):
        raise ValueError(f"path {path!r} must be a path on the API host, such as '/api/v1/...'")
    return path


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def raise_for_error(response: httpx.Response) -> None:
    """Raise the `APIError` subclass for a status of 400 or more."""
    if response.status_code < 400:
        return
    raise api_error(
        status_code=response.status_code,
        method=response.request.method,
        path=response.request.url.path,
        body=_json_or_none(response),
        www_authenticate=response.headers.get("WWW-Authenticate"),
        retry_after=retry_after_seconds(response),
        request_id=response.headers.get("x-request-id"),
    )


def parse_success(operation: Operation[T], response: httpx.Response) -> T:
    """Parse a success response, turning a broken shape into an `APIError` naming the field."""
    try:
        return operation.parse(response)
    except ShapeError as exc:
        raise APIError(
            f"{operation.method} {operation.path} answered {response.status_code} with a body "
            f"that does not match the documented shape: {exc}",
            status_code=response.status_code,
            body=_json_or_none(response),
        ) from exc


class _Call(Generic[P, T]):
    """A client method made from a family's `Operation` builder, taking the builder's
    arguments: `Client` sends the operation and returns its result, `AsyncClient` returns an
    awaitable of it."""

    def __init__(self, build: Callable[P, Operation[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.__name__ = build.__name__
        # help() and inspect.signature() show the builder's arguments and the call's result.
        signature = inspect.signature(build)
        result = str(signature.return_annotation).removeprefix("Operation[").removesuffix("]")
        self.__signature__ = signature.replace(return_annotation=result)

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.__name__ = name

    def __call__(self, client: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Called on the class, as a method is: `Client.list_workflows(client)`."""
        return client._run(self.build(*args, **kwargs))

    @overload
    def __get__(self, client: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, client: Client, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, client: Any, owner: type[Any]) -> Any:
        if client is None:
            return self
        run, build = client._run, self.build

        def call(*args: P.args, **kwargs: P.kwargs) -> Any:
            return run(build(*args, **kwargs))

        call.__name__ = call.__qualname__ = self.__name__
        call.__doc__ = self.__doc__
        call.__signature__ = self.__signature__  # type: ignore[attr-defined]
        return call


class _ClientBase(Generic[TransportT]):
    """What both clients share; each opens its own kind of httpx client (``_open``)."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        verify: VerifyTypes = True,
        transport: TransportT | None = None,
    ) -> None:
        self.config = config
        self._auth = CredgateAuth(config)
        self._open(transport, self._http_options(verify))

    def _open(self, transport: TransportT | None, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_url={self.config.api_url!r}, "
            f"token_url={self.config.token_url!r}, client_id={self.config.client_id!r}, "
            "client_secret='**********')"
        )

    def _http_options(self, verify: VerifyTypes) -> dict[str, Any]:
        return {
            "base_url": self.config.api_url,
            "auth": self._auth,
            "timeout": self.config.timeout,
            "limits": POOL_LIMITS,
            "verify": verify,
            "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
            "follow_redirects": False,
        }

    # The API calls, the same for both clients (see `_Call`).
    # NQL
    execute_nql = _Call(families.nql_execute)
    execute_nql_v2 = _Call(families.nql_execute_v2)
    execute_nql_csv = _Call(families.nql_execute_csv)
    export_nql = _Call(families.nql_export)
    nql_export_status = _Call(families.nql_export_status)

    # Workflows
    list_workflows = _Call(families.workflows_list)
    workflow_details = _Call(families.workflow_details)
    execute_workflow = _Call(families.workflow_execute)
    execute_workflow_v2 = _Call(families.workflow_execute_v2)

    # Remote Actions
    list_remote_actions = _Call(families.remote_actions_list)
    remote_action_details = _Call(families.remote_action_details)
    execute_remote_action = _Call(families.remote_action_execute)

    # Enrichment, Campaigns, Spark, Data management
    enrich_fields = _Call(families.enrichment_fields)
    trigger_campaign = _Call(families.campaign_trigger)
    spark_handoff = _Call(families.spark_handoff)
    schedule_device_deletions = _Call(families.device_deletions)

    # Classic APIs
    list_engines = _Call(families.engines_list)
    audit_log = _Call(families.audit_log)
    nxql = _Call(families.nxql)


class Client(_ClientBase[httpx.BaseTransport]):
    """Blocking client. One token per client object, shared by every thread that uses it.

    ```
    config = ClientConfig(base_url="http://127.0.0.1:8000", client_id=..., client_secret=...)
    with Client(config) as client:
        workflows = client.list_workflows()
    ```
    """

    _http: httpx.Client

    def _open(self, transport: httpx.BaseTransport | None, options: dict[str, Any]) -> None:
        self._http = httpx.Client(transport=transport, **options)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, raise_errors: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send any request to the API host with the bearer token; raise on 4xx/5xx.

        `kwargs` are those of `httpx.Client.request` (params, json, content, headers, ...).
        With `raise_errors=False` an error status is returned instead of raised (the token
        handling, the retry on 401 and the waits on 429 happen either way).
        """
        path = _relative_path(path)
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path} failed: {exc}") from exc
        if raise_errors:
            raise_for_error(response)
        return response

    def _run(self, operation: Operation[T]) -> T:
        response = self.request(operation.method, operation.path, **operation.request_kwargs())
        return parse_success(operation, response)


class AsyncClient(_ClientBase[httpx.AsyncBaseTransport]):
    """Async client. One token per client object; concurrent tasks share one token fetch."""

    _http: httpx.AsyncClient

    def _open(self, transport: httpx.AsyncBaseTransport | None, options: dict[str, Any]) -> None:
        self._http = httpx.AsyncClient(transport=transport, **options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, raise_errors: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send any request to the API host with the bearer token; raise on 4xx/5xx
        (or, with `raise_errors=False`, return the error response)."""
        path = _relative_path(path)
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {path} failed: {exc}") from exc
        if raise_errors:
            raise_for_error(response)
        return response

    async def _run(self, operation: Operation[T]) -> T:
        response = await self.request(
            operation.method, operation.path, **operation.request_kwargs()
        )
        return parse_success(operation, response)
