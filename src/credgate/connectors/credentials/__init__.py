"""Connector credentials (outbound): validation, the mask, and the shape storage receives.

Storage, encryption and HTTP routes build on this package; it has no I/O of its own.
"""

from credgate.connectors.credentials.errors import CredentialValidationError, FieldError
from credgate.connectors.credentials.schemas import (
    ALLOWED_AUTH_TYPES,
    AUTH_FIELDS,
    MASK,
    OBTAINED_SECRET_FIELDS,
    SECRET_BINDINGS,
    SECRET_FIELDS,
    AuthType,
    FieldKind,
    FieldSpec,
    Protocol,
    Secrets,
    ValidatedCredential,
)
from credgate.connectors.credentials.validation import (
    masked_view,
    obtained_tokens_outdated,
    validate_create,
    validate_update,
)

__all__ = [
    "ALLOWED_AUTH_TYPES",
    "AUTH_FIELDS",
    "MASK",
    "OBTAINED_SECRET_FIELDS",
    "SECRET_BINDINGS",
    "SECRET_FIELDS",
    "AuthType",
    "CredentialValidationError",
    "FieldError",
    "FieldKind",
    "FieldSpec",
    "Protocol",
    "Secrets",
    "ValidatedCredential",
    "masked_view",
    "obtained_tokens_outdated",
    "validate_create",
    "validate_update",
]
