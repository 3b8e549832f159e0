"""Wires the outbound connectors into a :class:`~credgate.container.Container`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from credgate.connectors.interfaces import CredentialClients
from credgate.core.errors import NotFoundError
from credgate.outbound.exporters import ExporterService, ExportTarget
from credgate.outbound.webhooks import WebhookService
from credgate.outbound.worker import DeliveryPolicy, OutboundWorker

if TYPE_CHECKING:
    from credgate.container import Container

__all__ = ["Outbound", "open_outbound"]


@dataclass(eq=False)
class Outbound:
    webhooks: WebhookService
    exporters: ExporterService
    transport: CredentialClients
    worker: OutboundWorker


def open_outbound(container: Container) -> Outbound:
    s = container.settings
    credentials = container.connector_credentials

    def credential_target(ref: str) -> ExportTarget | None:
        try:
            view = credentials.find(ref)
        except NotFoundError:
            return None
        loaded = credentials.load(view.id)
        return ExportTarget(view.id, loaded.protocol.value, loaded.auth_type.value)

    def protocol_of(credential_id: str) -> str | None:
        try:
            return str(credentials.load(credential_id).protocol)
        except NotFoundError:
            return None

    def query_parameters(query_id: str) -> list[str] | None:
        found = container.definitions.find("query", query_id)
        return None if found is None else list(found.data.get("parameters") or ())

    def query_rows(
        query_id: str, parameters: Mapping[str, str]
    ) -> tuple[list[str], list[list[object]]]:
        from credgate.platform.definitions import to_query

        found = container.definitions.find("query", query_id)
        if found is None:
            raise LookupError(f"the saved NQL query {query_id!r} no longer exists")
        result = container.platform.run_query(
            to_query(found), parameters, max_rows=s.exporter_max_rows
        )
        return list(result.headers), result.rows

    def credential_protocol(ref: str) -> tuple[str, str] | None:
        target = credential_target(ref)
        return None if target is None else (target.id, target.protocol)

    webhooks = WebhookService(
        container.db, container.vault, credential_protocol=credential_protocol
    )
    exporters = ExporterService(
        container.db, credential_target=credential_target, query_parameters=query_parameters
    )
    transport: CredentialClients = container.connections
    policy = DeliveryPolicy(
        max_attempts=s.webhook_max_attempts,
        backoff_base=s.webhook_backoff_base_seconds,
        backoff_max=s.webhook_backoff_max_seconds,
        timeout=s.webhook_timeout_seconds,
    )
    worker = OutboundWorker(
        webhooks,
        exporters,
        transport,
        policy,
        batch_size=s.worker_batch_size,
        poll_interval=s.worker_poll_interval_seconds,
        lease_seconds=s.worker_lease_seconds,
        export_query=query_rows,
        protocol_of=protocol_of,
    )
    return Outbound(webhooks, exporters, transport, worker)
