"""A tiny integration: push operating systems from a CMDB into the platform, then read back
the devices on one operating system through a saved query."""

from __future__ import annotations

from collections.abc import Mapping

from credgate.client import Client, Enrichment, EnrichmentField


def push_operating_systems(client: Client, os_by_device: Mapping[str, str]) -> int:
    """Write `#os` for each device name; return how many were accepted."""
    enrichments = [
        Enrichment(
            EnrichmentField("device/device/name", device),
            [EnrichmentField("device/device/#os", os)],
        )
        for device, os in os_by_device.items()
    ]
    result = client.enrich_fields("cmdb", enrichments)
    return len(enrichments) - len(result.errors)


def devices_on(client: Client, os: str) -> list[str]:
    result = client.execute_nql_v2("#devices_by_os", {"os": os})
    return sorted(str(row["name"]) for row in result.data)
