"""Platform events that trigger webhooks, the variables each exposes, and sample data.

Every event gives a template these variables:

* ``event`` - the event type (below); ``event_id`` - the delivery's ``webhook-id``;
  ``occurred_at`` - ISO 8601 UTC time;
* ``request_id``, ``client_id``, ``state``, ``target`` - the platform request that caused it;
* ``payload`` - the request as received (its documented fields, per type below);
* ``result`` - what was answered, or ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["COMMON_VARIABLES", "EVENT_TYPES", "EventType", "sample_context"]

COMMON_VARIABLES: Final = (
    "event",
    "event_id",
    "occurred_at",
    "request_id",
    "client_id",
    "state",
    "target",
    "payload",
    "result",
)


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    payload_variables: tuple[str, ...]
    sample_payload: Mapping[str, Any]


EVENT_TYPES: Final[dict[str, EventType]] = {
    e.name: e
    for e in (
        EventType(
            "workflow_execution",
            "A workflow execution was requested through the Workflows API.",
            ("workflowId", "params", "devices", "users"),
            {"workflowId": "wf-123", "params": {"reason": "disk full"}, "devices": ["PC-042"]},
        ),
        EventType(
            "remote_action",
            "A remote action run was requested through the Remote Actions API.",
            ("remoteActionId", "devices", "params", "expiresInMinutes"),
            {"remoteActionId": "#restart", "devices": ["PC-042"], "params": {}},
        ),
        EventType(
            "campaign",
            "A campaign was triggered through the Campaigns API.",
            ("campaignNqlId", "userSid", "userUid", "expiresInMinutes"),
            {"campaignNqlId": "#satisfaction", "userSid": ["S-1-5-21-1-2-3-1001"]},
        ),
        EventType(
            "enrichment",
            "Enrichment results were written through the Enrichment API.",
            ("domain", "enrichments", "errors"),
            {
                "domain": "ops",
                "enrichments": [
                    {"identification": {"name": "device/device/name", "value": "PC-042"}}
                ],
            },
        ),
        EventType(
            "handoff",
            "A Spark conversation was handed off to a human agent.",
            ("userPrincipalName", "summary", "conversation"),
            {"userPrincipalName": "ada@example.com", "summary": 'VPN "drops" every hour'},
        ),
        EventType(
            "device_deletion",
            "Devices were deleted through the data management API.",
            ("devices",),
            {"devices": ["PC-042", "PC-043"]},
        ),
        EventType(
            "explicit",
            "An explicit send from the admin API or CLI, with any JSON object as payload.",
            ("(any field of the object sent)",),
            {"message": "hello from credgate", "severity": 3},
        ),
    )
}


def sample_context(event_type: str) -> dict[str, Any]:
    """A complete template context for ``event_type`` filled with sample data."""
    event = EVENT_TYPES[event_type]
    return {
        "event": event.name,
        "event_id": "msg_sample",
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "request_id": "00000000-0000-4000-8000-000000000000",
        "client_id": "sample-client",
        "state": "ACCEPTED",
        "target": "",
        "payload": dict(event.sample_payload),
        "result": None,
    }
