"""Outbound connectors: webhooks with durable delivery, and scheduled data exporters (SPEC §5)."""
