"""Every table, imported in one place so that Alembic and the tests see the whole schema."""

from credgate.admins.models import Admin, AdminSession, AdminToken
from credgate.apicredentials.models import ApiCredential, ApiCredentialSecret
from credgate.classic.models import Engine
from credgate.connectors.consent import ConnectorConsent
from credgate.connectors.credentials.models import ConnectorCredential, ConnectorCredentialSecret
from credgate.connectors.models import Connector
from credgate.connectors.tokenstore import ConnectorTokenLease
from credgate.core.audit.models import AuditEvent
from credgate.core.db import Base
from credgate.core.models import Change, MetaEntry
from credgate.oauth.models import RevokedToken
from credgate.outbound.models import (
    DeliveryAttempt,
    Exporter,
    ExporterRun,
    Webhook,
    WebhookDelivery,
    WebhookSecret,
)
from credgate.platform.models import InventoryObject, PlatformDefinition, PlatformRequest
from credgate.security.models import AuthFailure, FamiliarNetwork, SigningKey
from credgate.users.models import Profile, User

metadata = Base.metadata

__all__ = [
    "Admin",
    "AdminSession",
    "AdminToken",
    "ApiCredential",
    "ApiCredentialSecret",
    "AuditEvent",
    "AuthFailure",
    "Change",
    "Connector",
    "ConnectorConsent",
    "ConnectorCredential",
    "ConnectorCredentialSecret",
    "ConnectorTokenLease",
    "DeliveryAttempt",
    "Engine",
    "Exporter",
    "ExporterRun",
    "FamiliarNetwork",
    "InventoryObject",
    "MetaEntry",
    "PlatformDefinition",
    "PlatformRequest",
    "Profile",
    "RevokedToken",
    "SigningKey",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookSecret",
    "metadata",
]
