"""credgate's Python SDK: typed, token-managing clients for the platform APIs.

Imports only httpx, pydantic (which reads the response bodies) and the standard library, so
integrations can use it without the server.

```
from credgate.client import Client, ClientConfig

config = ClientConfig(instance="acme", region="eu", domain="example.cloud",
                      client_id="...", client_secret="...")
with Client(config) as client:
    for workflow in client.list_workflows():
        print(workflow.name)
```
"""

from ._auth import CredgateAuth, NeedToken, Sleep, TokenFlow
from ._client import AsyncClient, Client
from ._config import (
    DEFAULT_SCOPE,
    LEGACY_TOKEN_PATH,
    REGIONS,
    TOKEN_PATH,
    ClientConfig,
    TokenAuthMethod,
)
from ._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    CredgateError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TokenError,
    TransportError,
    ValidationError,
)
from ._families import AuditScope, Compression, Dependency, NxqlPlatform, TriggerMethod
from ._models import (
    AuditLogEntry,
    AuditLogPage,
    CampaignRequest,
    CampaignTriggerResult,
    DeletionDevice,
    DeviceDeletion,
    DeviceDeletionResult,
    Engine,
    EngineStatus,
    Enrichment,
    EnrichmentError,
    EnrichmentErrorDetail,
    EnrichmentField,
    EnrichmentResult,
    NqlDateTime,
    NqlExport,
    NqlExportStatus,
    NqlResult,
    NqlResultV2,
    NxqlFormat,
    NxqlResult,
    RemoteAction,
    RemoteActionExecution,
    RemoteActionScriptInfo,
    RemoteActionTargeting,
    SparkFile,
    SparkPart,
    SparkText,
    TriggerInfo,
    Workflow,
    WorkflowDevice,
    WorkflowExecution,
    WorkflowUser,
)

__all__ = [
    "DEFAULT_SCOPE",
    "LEGACY_TOKEN_PATH",
    "REGIONS",
    "TOKEN_PATH",
    "APIError",
    "AsyncClient",
    "AuditLogEntry",
    "AuditLogPage",
    "AuditScope",
    "AuthenticationError",
    "CampaignRequest",
    "CampaignTriggerResult",
    "Client",
    "ClientConfig",
    "Compression",
    "ConfigurationError",
    "CredgateAuth",
    "CredgateError",
    "DeletionDevice",
    "Dependency",
    "DeviceDeletion",
    "DeviceDeletionResult",
    "Engine",
    "EngineStatus",
    "Enrichment",
    "EnrichmentError",
    "EnrichmentErrorDetail",
    "EnrichmentField",
    "EnrichmentResult",
    "NeedToken",
    "NotFoundError",
    "NqlDateTime",
    "NqlExport",
    "NqlExportStatus",
    "NqlResult",
    "NqlResultV2",
    "NxqlFormat",
    "NxqlPlatform",
    "NxqlResult",
    "PermissionDeniedError",
    "RateLimitedError",
    "RemoteAction",
    "RemoteActionExecution",
    "RemoteActionScriptInfo",
    "RemoteActionTargeting",
    "ServerError",
    "Sleep",
    "SparkFile",
    "SparkPart",
    "SparkText",
    "TokenAuthMethod",
    "TokenError",
    "TokenFlow",
    "TransportError",
    "TriggerInfo",
    "TriggerMethod",
    "ValidationError",
    "Workflow",
    "WorkflowDevice",
    "WorkflowExecution",
    "WorkflowUser",
]
