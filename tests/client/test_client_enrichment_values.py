"""The SDK sends enrichment values with their JSON type: a number field takes a number."""

from __future__ import annotations

import pytest

from credgate.client import Enrichment, EnrichmentField, ValidationError
from credgate.testing import Sandbox


def test_numeric_value_is_sent_as_a_number_and_read_back(sandbox: Sandbox) -> None:
    with sandbox.client(["enrichment", "nql"]) as client:
        result = client.enrich_fields(
            "inventory",
            [
                Enrichment(
                    EnrichmentField("device/device/name", "pc-numeric"),
                    [
                        EnrichmentField("device/device/#os", "linux"),
                        EnrichmentField("device/device/#ram_gb", 16),
                    ],
                )
            ],
        )
        assert result.status == "success"
        rows = sandbox.container.platform.rows("devices")
        device = next(r for r in rows if r.get("name") == "pc-numeric")
        assert device["#ram_gb"] == 16
        with pytest.raises(ValidationError):
            client.enrich_fields(
                "inventory",
                [
                    Enrichment(
                        EnrichmentField("device/device/name", "pc-numeric"),
                        [EnrichmentField("device/device/#ram_gb", "sixteen")],
                    )
                ],
            )
