"""`Client` and `AsyncClient`: typed calls to every API family over one cached token.

Both clients run the same `Operation`s from `_families` and map error responses the same way;
only the sending differs (blocking or awaited).
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from . import _families as families
from ._auth import USER_AGENT, CredgateAuth, retry_after_seconds
from ._config import ClientConfig
from ._errors import APIError, TransportError, api_error
from ._families import (
    AuditScope,
    Compression,
    Dependency,
    NxqlPlatform,
    Operation,
    TriggerMethod,
)
from ._models import (
    AuditLogPage,
    CampaignTriggerResult,
    DeletionDevice,
    DeviceDeletionResult,
    Engine,
    Enrichment,
    EnrichmentResult,
    NqlExport,
    NqlExportStatus,
    NqlResult,
    NqlResultV2,
    NxqlFormat,
    NxqlResult,
    RemoteAction,
    RemoteActionExecution,
    ShapeError,
    SparkPart,
    TriggerInfo,
    Workflow,
    WorkflowDevice,
    WorkflowExecution,
    WorkflowUser,
)

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")

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


class _ClientBase:
    config: ClientConfig
    _auth: CredgateAuth

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


class Client(_ClientBase):
    """Blocking client. One token per client object, shared by every thread that uses it.

    ```
    config = ClientConfig(base_url="http://127.0.0.1:8000", client_id=..., client_secret=...)
    with Client(config) as client:
        workflows = client.list_workflows()
    ```
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        verify: VerifyTypes = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._auth = CredgateAuth(config)
        self._http = httpx.Client(transport=transport, **self._http_options(verify))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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

    # NQL
    def execute_nql(
        self, query_id: str, parameters: Mapping[str, Any] | None = None, *, utc_times: bool = False
    ) -> NqlResult:
        """`POST /api/v1/nql/execute` with `Accept: application/json`."""
        return self._run(families.nql_execute(query_id, parameters, utc_times=utc_times))

    def execute_nql_v2(
        self, query_id: str, parameters: Mapping[str, Any] | None = None, *, utc_times: bool = False
    ) -> NqlResultV2:
        """`POST /api/v2/nql/execute`: rows as objects."""
        return self._run(families.nql_execute_v2(query_id, parameters, utc_times=utc_times))

    def execute_nql_csv(
        self,
        query_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        version: Literal[1, 2] = 1,
        utc_times: bool = False,
    ) -> str:
        """`POST /api/v{version}/nql/execute` with `Accept: text/csv`; returns the CSV text."""
        return self._run(
            families.nql_execute_csv(query_id, parameters, version=version, utc_times=utc_times)
        )

    def export_nql(
        self,
        query_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        compression: Compression | None = None,
        method: Literal["GET", "POST"] = "POST",
    ) -> NqlExport:
        """`GET|POST /api/v1/nql/export`: start an export."""
        return self._run(
            families.nql_export(query_id, parameters, compression=compression, method=method)
        )

    def nql_export_status(self, export_id: str) -> NqlExportStatus:
        """`GET /api/v1/nql/status/{exportId}` (`truncated` is True on 206)."""
        return self._run(families.nql_export_status(export_id))

    # Workflows
    def list_workflows(
        self,
        *,
        dependency: Dependency | None = None,
        trigger_method: TriggerMethod | None = None,
        fetch_only_active: bool | None = None,
    ) -> list[Workflow]:
        """`GET /api/v1/workflows`, with only the filters given."""
        return self._run(
            families.workflows_list(
                dependency=dependency,
                trigger_method=trigger_method,
                fetch_only_active=fetch_only_active,
            )
        )

    def workflow_details(self, nql_id: str) -> list[Workflow]:
        """`GET /api/v1/workflows/details?nqlId=...`."""
        return self._run(families.workflow_details(nql_id))

    def execute_workflow(
        self,
        workflow_id: str,
        *,
        devices: Sequence[str] = (),
        users: Sequence[str] = (),
        params: Mapping[str, str] | None = None,
    ) -> WorkflowExecution:
        """`POST /api/v1/workflows/execute` with device UUIDs and user SIDs."""
        return self._run(
            families.workflow_execute(workflow_id, devices=devices, users=users, params=params)
        )

    def execute_workflow_v2(
        self,
        workflow_id: str,
        *,
        devices: Sequence[WorkflowDevice] = (),
        users: Sequence[WorkflowUser] = (),
        params: Mapping[str, str] | None = None,
    ) -> WorkflowExecution:
        """`POST /api/v2/workflows/execute` with users and devices by any documented id."""
        return self._run(
            families.workflow_execute_v2(workflow_id, devices=devices, users=users, params=params)
        )

    # Remote Actions
    def list_remote_actions(self) -> list[RemoteAction]:
        """`GET /api/v1/act/remote-action`."""
        return self._run(families.remote_actions_list())

    def remote_action_details(self, nql_id: str) -> RemoteAction:
        """`GET /api/v1/act/remote-action/details?nql-id=...` (NotFoundError on 404)."""
        return self._run(families.remote_action_details(nql_id))

    def execute_remote_action(
        self,
        remote_action_id: str,
        devices: Sequence[str],
        *,
        params: Mapping[str, str] | None = None,
        expires_in_minutes: int | None = None,
        trigger_info: TriggerInfo | None = None,
    ) -> RemoteActionExecution:
        """`POST /api/v1/act/execute` on collector ids."""
        return self._run(
            families.remote_action_execute(
                remote_action_id,
                devices,
                params=params,
                expires_in_minutes=expires_in_minutes,
                trigger_info=trigger_info,
            )
        )

    # Enrichment, Campaigns, Spark, Data management
    def enrich_fields(self, domain: str, enrichments: Sequence[Enrichment]) -> EnrichmentResult:
        """`POST /api/v1/enrichment/data/fields`: success (200) or partial success (207)."""
        return self._run(families.enrichment_fields(domain, enrichments))

    def trigger_campaign(
        self,
        campaign_nql_id: str,
        user_sids: Sequence[str],
        *,
        expires_in_minutes: int,
        parameters: Mapping[str, str] | None = None,
    ) -> CampaignTriggerResult:
        """`POST /api/v1/euf/campaign/trigger`."""
        return self._run(
            families.campaign_trigger(
                campaign_nql_id,
                user_sids,
                expires_in_minutes=expires_in_minutes,
                parameters=parameters,
            )
        )

    def spark_handoff(
        self,
        user_principal_name: str,
        parts: Sequence[SparkPart],
        *,
        timezone: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """`POST /api/v1/spark/handoff` (204)."""
        return self._run(
            families.spark_handoff(user_principal_name, parts, timezone=timezone, metadata=metadata)
        )

    def schedule_device_deletions(
        self, devices: Sequence[DeletionDevice], *, request_id: str | None = None
    ) -> DeviceDeletionResult:
        """`POST /api/v1/data-management/device/deletions` (202), with an x-request-id."""
        return self._run(families.device_deletions(devices, request_id=request_id))

    # Classic APIs
    def list_engines(self) -> list[Engine]:
        """`GET /api/configuration/v1/engines` (permission `engines`)."""
        return self._run(families.engines_list())

    def audit_log(
        self,
        scope: AuditScope = "portal",
        *,
        engine: str | None = None,
        since: dt.datetime | str | None = None,
        until: dt.datetime | str | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> AuditLogPage:
        """`GET /audit-trail/api/v1/{portal|engines|engine/<engine>}/type/auditlog`
        (permission `audit-trail`): one page, oldest first, with the `X-Total-Count` total.
        `since` is sent as `from` (inclusive), `until` as `to` (exclusive)."""
        return self._run(
            families.audit_log(
                scope, engine=engine, since=since, until=until, offset=offset, limit=limit
            )
        )

    def nxql(
        self,
        query: str,
        *,
        platforms: Sequence[NxqlPlatform] = (),
        format: NxqlFormat = "json",
        hr: bool = False,
        parameters: Sequence[Any] = (),
    ) -> NxqlResult:
        """`POST /2/query` (permission `nql`): `parameters` fill `%1`, `%2`, ...; rows parsed
        for format json, the text as sent for csv, xml and html."""
        return self._run(
            families.nxql(query, platforms=platforms, format=format, hr=hr, parameters=parameters)
        )


class AsyncClient(_ClientBase):
    """Async client. One token per client object; concurrent tasks share one token fetch."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        verify: VerifyTypes = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._auth = CredgateAuth(config)
        self._http = httpx.AsyncClient(transport=transport, **self._http_options(verify))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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

    # NQL
    async def execute_nql(
        self, query_id: str, parameters: Mapping[str, Any] | None = None, *, utc_times: bool = False
    ) -> NqlResult:
        """`POST /api/v1/nql/execute` with `Accept: application/json`."""
        return await self._run(families.nql_execute(query_id, parameters, utc_times=utc_times))

    async def execute_nql_v2(
        self, query_id: str, parameters: Mapping[str, Any] | None = None, *, utc_times: bool = False
    ) -> NqlResultV2:
        """`POST /api/v2/nql/execute`: rows as objects."""
        return await self._run(families.nql_execute_v2(query_id, parameters, utc_times=utc_times))

    async def execute_nql_csv(
        self,
        query_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        version: Literal[1, 2] = 1,
        utc_times: bool = False,
    ) -> str:
        """`POST /api/v{version}/nql/execute` with `Accept: text/csv`; returns the CSV text."""
        return await self._run(
            families.nql_execute_csv(query_id, parameters, version=version, utc_times=utc_times)
        )

    async def export_nql(
        self,
        query_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        compression: Compression | None = None,
        method: Literal["GET", "POST"] = "POST",
    ) -> NqlExport:
        """`GET|POST /api/v1/nql/export`: start an export."""
        return await self._run(
            families.nql_export(query_id, parameters, compression=compression, method=method)
        )

    async def nql_export_status(self, export_id: str) -> NqlExportStatus:
        """`GET /api/v1/nql/status/{exportId}` (`truncated` is True on 206)."""
        return await self._run(families.nql_export_status(export_id))

    # Workflows
    async def list_workflows(
        self,
        *,
        dependency: Dependency | None = None,
        trigger_method: TriggerMethod | None = None,
        fetch_only_active: bool | None = None,
    ) -> list[Workflow]:
        """`GET /api/v1/workflows`, with only the filters given."""
        return await self._run(
            families.workflows_list(
                dependency=dependency,
                trigger_method=trigger_method,
                fetch_only_active=fetch_only_active,
            )
        )

    async def workflow_details(self, nql_id: str) -> list[Workflow]:
        """`GET /api/v1/workflows/details?nqlId=...`."""
        return await self._run(families.workflow_details(nql_id))

    async def execute_workflow(
        self,
        workflow_id: str,
        *,
        devices: Sequence[str] = (),
        users: Sequence[str] = (),
        params: Mapping[str, str] | None = None,
    ) -> WorkflowExecution:
        """`POST /api/v1/workflows/execute` with device UUIDs and user SIDs."""
        return await self._run(
            families.workflow_execute(workflow_id, devices=devices, users=users, params=params)
        )

    async def execute_workflow_v2(
        self,
        workflow_id: str,
        *,
        devices: Sequence[WorkflowDevice] = (),
        users: Sequence[WorkflowUser] = (),
        params: Mapping[str, str] | None = None,
    ) -> WorkflowExecution:
        """`POST /api/v2/workflows/execute` with users and devices by any documented id."""
        return await self._run(
            families.workflow_execute_v2(workflow_id, devices=devices, users=users, params=params)
        )

    # Remote Actions
    async def list_remote_actions(self) -> list[RemoteAction]:
        """`GET /api/v1/act/remote-action`."""
        return await self._run(families.remote_actions_list())

    async def remote_action_details(self, nql_id: str) -> RemoteAction:
        """`GET /api/v1/act/remote-action/details?nql-id=...` (NotFoundError on 404)."""
        return await self._run(families.remote_action_details(nql_id))

    async def execute_remote_action(
        self,
        remote_action_id: str,
        devices: Sequence[str],
        *,
        params: Mapping[str, str] | None = None,
        expires_in_minutes: int | None = None,
        trigger_info: TriggerInfo | None = None,
    ) -> RemoteActionExecution:
        """`POST /api/v1/act/execute` on collector ids."""
        return await self._run(
            families.remote_action_execute(
                remote_action_id,
                devices,
                params=params,
                expires_in_minutes=expires_in_minutes,
                trigger_info=trigger_info,
            )
        )

    # Enrichment, Campaigns, Spark, Data management
    async def enrich_fields(
        self, domain: str, enrichments: Sequence[Enrichment]
    ) -> EnrichmentResult:
        """`POST /api/v1/enrichment/data/fields`: success (200) or partial success (207)."""
        return await self._run(families.enrichment_fields(domain, enrichments))

    async def trigger_campaign(
        self,
        campaign_nql_id: str,
        user_sids: Sequence[str],
        *,
        expires_in_minutes: int,
        parameters: Mapping[str, str] | None = None,
    ) -> CampaignTriggerResult:
        """`POST /api/v1/euf/campaign/trigger`."""
        return await self._run(
            families.campaign_trigger(
                campaign_nql_id,
                user_sids,
                expires_in_minutes=expires_in_minutes,
                parameters=parameters,
            )
        )

    async def spark_handoff(
        self,
        user_principal_name: str,
        parts: Sequence[SparkPart],
        *,
        timezone: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """`POST /api/v1/spark/handoff` (204)."""
        return await self._run(
            families.spark_handoff(user_principal_name, parts, timezone=timezone, metadata=metadata)
        )

    async def schedule_device_deletions(
        self, devices: Sequence[DeletionDevice], *, request_id: str | None = None
    ) -> DeviceDeletionResult:
        """`POST /api/v1/data-management/device/deletions` (202), with an x-request-id."""
        return await self._run(families.device_deletions(devices, request_id=request_id))

    # Classic APIs
    async def list_engines(self) -> list[Engine]:
        """`GET /api/configuration/v1/engines` (permission `engines`)."""
        return await self._run(families.engines_list())

    async def audit_log(
        self,
        scope: AuditScope = "portal",
        *,
        engine: str | None = None,
        since: dt.datetime | str | None = None,
        until: dt.datetime | str | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> AuditLogPage:
        """`GET /audit-trail/api/v1/{portal|engines|engine/<engine>}/type/auditlog`
        (permission `audit-trail`): one page, oldest first, with the `X-Total-Count` total.
        `since` is sent as `from` (inclusive), `until` as `to` (exclusive)."""
        return await self._run(
            families.audit_log(
                scope, engine=engine, since=since, until=until, offset=offset, limit=limit
            )
        )

    async def nxql(
        self,
        query: str,
        *,
        platforms: Sequence[NxqlPlatform] = (),
        format: NxqlFormat = "json",
        hr: bool = False,
        parameters: Sequence[Any] = (),
    ) -> NxqlResult:
        """`POST /2/query` (permission `nql`): `parameters` fill `%1`, `%2`, ...; rows parsed
        for format json, the text as sent for csv, xml and html."""
        return await self._run(
            families.nxql(query, platforms=platforms, format=format, hr=hr, parameters=parameters)
        )
