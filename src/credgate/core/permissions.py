"""The permission catalogue of API credentials (SPEC section 1).

Each permission id is stable and doubles as an OAuth 2.0 scope string (RFC 6749 section 3.3:
scope tokens are ``%x21 / %x23-5B / %x5D-7E`` characters, which every id here satisfies).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "AUDIT_TRAIL",
    "BY_ID",
    "CAMPAIGNS",
    "CATALOGUE",
    "CLASSIC_SCOPES",
    "DATA_MANAGEMENT",
    "ENGINES",
    "ENRICHMENT",
    "INTEGRATION_SCOPE",
    "NQL",
    "REMOTE_ACTIONS",
    "SCOPE_ALIASES",
    "SPARK",
    "WORKFLOWS",
    "Permission",
    "UnknownPermissionError",
    "parse_permissions",
]


@dataclass(frozen=True, slots=True)
class Permission:
    """One grantable permission: ``id`` is also the scope string a token carries."""

    id: str
    label: str
    description: str


REMOTE_ACTIONS = Permission(
    "remote-actions", "Remote Actions API", "trigger and query remote actions"
)
ENRICHMENT = Permission("enrichment", "Enrichment API", "write enrichment fields")
DATA_MANAGEMENT = Permission(
    "data-management", "Data management", "manage devices (schedule device deletions)"
)
WORKFLOWS = Permission("workflows", "Workflows API", "list, inspect and trigger workflows")
CAMPAIGNS = Permission("campaigns", "Campaigns API", "trigger campaigns")
NQL = Permission("nql", "NQL API", "run saved queries and exports")
SPARK = Permission("spark", "Spark API", "hand a live conversation over to Spark")
# Classic APIs (SPEC section 6).
ENGINES = Permission("engines", "Engines API", "list the engines")
AUDIT_TRAIL = Permission("audit-trail", "Audit trail API", "read the audit trail")

CATALOGUE: tuple[Permission, ...] = (
    REMOTE_ACTIONS,
    ENRICHMENT,
    DATA_MANAGEMENT,
    WORKFLOWS,
    CAMPAIGNS,
    NQL,
    SPARK,
    ENGINES,
    AUDIT_TRAIL,
)

BY_ID: Mapping[str, Permission] = MappingProxyType({p.id: p for p in CATALOGUE})

INTEGRATION_SCOPE = "service:integration"
"""The documented scope value: a token for every permission the credential has."""

CLASSIC_SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "service:engines": ENGINES.id,
        "service:audit-trail": AUDIT_TRAIL.id,
        "service:remoteaction": REMOTE_ACTIONS.id,
        "service:nxql": NQL.id,
        "service:enrichment": ENRICHMENT.id,
    }
)
"""The classic OAuth scopes (SPEC section 6) and the permission each one needs.

======================== ================== ==========================================
Classic scope            Permission         Classic API it opens
======================== ================== ==========================================
``service:engines``      ``engines``        ``GET /api/configuration/v1/engines``
``service:audit-trail``  ``audit-trail``    ``GET /audit-trail/api/v1/.../type/auditlog``
``service:remoteaction`` ``remote-actions`` the Remote Actions API
``service:nxql``         ``nql``            ``GET|POST /2/query`` (NXQL)
``service:enrichment``   ``enrichment``     the Enrichment (Data Enricher) API
======================== ================== ==========================================

A credential may request a classic scope only when it holds the permission; the token then
carries that permission, exactly as if the permission id had been requested.
"""

SCOPE_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # The Data management API documents its own scope name.
        "nx_dataplatform_device_deletion_api": DATA_MANAGEMENT.id,
        **CLASSIC_SCOPES,
    }
)
"""Documented alternative scope names, mapped onto the catalogue id they stand for."""


class UnknownPermissionError(ValueError):
    """Names every unknown permission and the allowed ones."""

    def __init__(self, unknown: Iterable[str]) -> None:
        self.unknown = sorted(unknown)
        listed = ", ".join(repr(u) for u in self.unknown)
        allowed = ", ".join(p.id for p in CATALOGUE)
        super().__init__(f"unknown permission(s): {listed}; allowed: {allowed}")


def parse_permissions(ids: Iterable[str]) -> frozenset[str]:
    """Return the catalogue ids named by ``ids``, resolving :data:`SCOPE_ALIASES` and labels.

    Raises :class:`UnknownPermissionError` (a ``ValueError``) naming every unknown id, so a
    caller can report them all at once. :data:`INTEGRATION_SCOPE` is not a permission and is
    refused here: expanding it is the token service's decision, which knows what the credential
    holds. Labels (``"NQL API"``) are accepted, as an administrator reads them in the catalogue.
    """
    by_label = {p.label.lower(): p.id for p in CATALOGUE}
    found: set[str] = set()
    unknown: set[str] = set()
    for raw in ids:
        value = raw.strip()
        name = SCOPE_ALIASES.get(value, value)
        if name not in BY_ID:
            name = by_label.get(value.lower(), name)
        if name in BY_ID:
            found.add(name)
        else:
            unknown.add(raw)
    if unknown:
        raise UnknownPermissionError(unknown)
    return frozenset(found)
