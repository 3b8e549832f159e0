"""Connector credentials (outbound): validation, the mask, and the shape storage receives.

Storage, encryption and HTTP routes build on this package; it has no I/O of its own.
"""

from credgate.connectors.credentials import errors, schemas, validation

# The package offers the whole surface of its pure modules, as each declares it.
from credgate.connectors.credentials.errors import *  # noqa: F403
from credgate.connectors.credentials.schemas import *  # noqa: F403
from credgate.connectors.credentials.validation import *  # noqa: F403

__all__ = [*errors.__all__, *schemas.__all__, *validation.__all__]
