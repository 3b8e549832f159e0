"""Every table, imported in one place so that Alembic and the tests see the whole schema, and
every sealed column, so that master-key rotation re-encrypts them all."""

from credgate.admins.models import Admin, AdminSession, AdminToken
from credgate.apicredentials.models import ApiCredential, ApiCredentialSecret
from credgate.classic.models import Engine
from credgate.connectors.consent import SEALED_CONSENTS, ConnectorConsent
from credgate.connectors.credentials.models import (
    SEALED_SECRETS,
    ConnectorCredential,
    ConnectorCredentialSecret,
)
from credgate.connectors.credentials.services import seal_unbound_secrets
from credgate.connectors.models import Connector
from credgate.connectors.tokenstore import ConnectorTokenLease
from credgate.core.audit.models import AuditEvent
from credgate.core.db import Base
from credgate.core.models import Change, MetaEntry
from credgate.oauth.models import RevokedToken
from credgate.outbound.models import (
    SEALED_SIGNING_SECRETS,
    DeliveryAttempt,
    Exporter,
    ExporterRun,
    Webhook,
    WebhookDelivery,
    WebhookSecret,
)
from credgate.platform.models import InventoryObject, PlatformDefinition, PlatformRequest
from credgate.security.models import AuthFailure, FamiliarNetwork, SigningKey
from credgate.security.rotation import SIGNING_KEY_COLUMN, SealedValues
from credgate.users.models import Profile, User

metadata = Base.metadata

SEALED = SealedValues(
    columns=(SIGNING_KEY_COLUMN, SEALED_SECRETS, SEALED_SIGNING_SECRETS, SEALED_CONSENTS),
    # Connector secrets stored before they were bound to their destination are bound first
    # (and so written under the current key version already).
    before_reencrypt=(seal_unbound_secrets,),
)

__all__ = [
    "SEALED",
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
