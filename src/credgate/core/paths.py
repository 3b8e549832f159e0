"""Which permission each protected API path needs: one table for every reader.

The platform routes (``/api/v1``, ``/api/v2``), the classic routes (``/2/query``, the engines and
audit-trail APIs) and forward authentication (:mod:`credgate.oauth.forward_auth`) all take a
path's permission from :data:`PROTECTED`, so what a gateway lets through and what credgate's own
routes accept cannot drift apart. A route looks its permission up by its own path template; a
gateway's forwarded path is matched against the same templates.

Templates use the routing syntax (``{name}`` is one non-empty path segment). Literal segments
match without regard to ASCII case, because some upstreams route ``/API/v1/...`` as
``/api/v1/...``: the permission is then the one such an upstream would serve. A path that matches
no template maps to no permission; forward authentication refuses it unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from credgate.core.permissions import (
    AUDIT_TRAIL,
    CAMPAIGNS,
    DATA_MANAGEMENT,
    ENGINES,
    ENRICHMENT,
    NQL,
    REMOTE_ACTIONS,
    SPARK,
    WORKFLOWS,
)

__all__ = ["PROTECTED", "PathTable", "ProtectedPath"]


@dataclass(frozen=True, slots=True)
class ProtectedPath:
    """One protected route: its path template and the permission every method of it needs."""

    template: str
    permission: str


class PathTable:
    """Path templates and their permissions, looked up by template or by a concrete path."""

    def __init__(self, entries: Iterable[ProtectedPath]) -> None:
        self.entries: tuple[ProtectedPath, ...] = tuple(entries)
        by_template: dict[str, str] = {}
        for entry in self.entries:
            if not entry.template.startswith("/") or entry.template.endswith("/"):
                raise ValueError(f"{entry.template!r}: a template starts, and does not end, with /")
            if by_template.setdefault(entry.template, entry.permission) != entry.permission:
                raise ValueError(f"{entry.template!r} is listed with two permissions")
        self.by_template: Mapping[str, str] = MappingProxyType(by_template)
        # Most templates have no parameter: one dictionary look-up answers them.
        self._exact = {t.lower(): p for t, p in by_template.items() if "{" not in t}
        self._patterns = tuple(
            (tuple(_segment_matcher(s) for s in t.lower().split("/")[1:]), p)
            for t, p in by_template.items()
            if "{" in t
        )

    def permission_of(self, template: str) -> str:
        """The permission of a route, by its path template; a route missing here is a bug."""
        try:
            return self.by_template[template]
        except KeyError:
            raise LookupError(
                f"{template!r} is not in credgate.core.paths.PROTECTED; every protected "
                "route needs its entry there"
            ) from None

    def resolve(self, path: str) -> str | None:
        """The permission a normalised path needs, or None when no protected route serves it.

        ``path`` must already be normalised (no dot segments, no empty segments, percent-encoding
        decoded as far as it may be): :func:`credgate.oauth.forward_auth.normalise_path`.
        A trailing slash is ignored, as the routes redirect it away.
        """
        lowered = path.lower().rstrip("/") or "/"
        found = self._exact.get(lowered)
        if found is not None:
            return found
        segments = lowered.split("/")[1:]
        for matchers, permission in self._patterns:
            if len(matchers) == len(segments) and all(
                (m is None and s) or m == s for m, s in zip(matchers, segments, strict=True)
            ):
                return permission
        return None


def _segment_matcher(segment: str) -> str | None:
    """A literal segment, or None for a ``{parameter}`` (any non-empty segment)."""
    if segment.startswith("{") and segment.endswith("}"):
        return None
    if "{" in segment or "}" in segment:
        raise ValueError(f"{segment!r}: a parameter takes a whole segment")
    return segment


PROTECTED: Final = PathTable(
    (
        # Platform APIs (credgate.platform.routes).
        ProtectedPath("/api/v1/workflows", WORKFLOWS.id),
        ProtectedPath("/api/v1/workflows/details", WORKFLOWS.id),
        ProtectedPath("/api/v1/workflows/execute", WORKFLOWS.id),
        ProtectedPath("/api/v2/workflows/execute", WORKFLOWS.id),
        ProtectedPath(
            "/api/v1/workflows/workflows/{workflow_uuid}/execution/{execution_uuid}/trigger",
            WORKFLOWS.id,
        ),
        ProtectedPath("/api/v1/act/remote-action", REMOTE_ACTIONS.id),
        ProtectedPath("/api/v1/act/remote-action/details", REMOTE_ACTIONS.id),
        ProtectedPath("/api/v1/act/execute", REMOTE_ACTIONS.id),
        ProtectedPath("/api/v1/nql/execute", NQL.id),
        ProtectedPath("/api/v2/nql/execute", NQL.id),
        ProtectedPath("/api/v1/nql/export", NQL.id),
        ProtectedPath("/api/v1/nql/status/{export_id}", NQL.id),
        ProtectedPath("/api/v1/enrichment/data/fields", ENRICHMENT.id),
        ProtectedPath("/api/v1/euf/campaign/trigger", CAMPAIGNS.id),
        ProtectedPath("/api/v1/spark/handoff", SPARK.id),
        ProtectedPath("/api/v1/data-management/device/deletions", DATA_MANAGEMENT.id),
        # Classic APIs (credgate.classic.routes); classic scopes map onto these permissions.
        ProtectedPath("/2/query", NQL.id),
        ProtectedPath("/2/editor", NQL.id),  # the NXQL editor page runs /2/query's queries
        ProtectedPath("/api/configuration/v1/engines", ENGINES.id),
        ProtectedPath("/audit-trail/api/v1/portal/type/auditlog", AUDIT_TRAIL.id),
        ProtectedPath("/audit-trail/api/v1/engines/type/auditlog", AUDIT_TRAIL.id),
        ProtectedPath("/audit-trail/api/v1/engine/{engine}/type/auditlog", AUDIT_TRAIL.id),
    )
)
"""Every protected route of credgate, and the permission it needs."""
