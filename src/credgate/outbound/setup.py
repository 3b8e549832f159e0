"""Wires the outbound connectors: given what they need from the rest of credgate (the database,
the vault, and the connectors' and platform's declared interfaces), builds the webhooks, the
exporters and the worker that delivers and runs them. The container calls it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from credgate.connectors.interfaces import CredentialClients, CredentialDirectory
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.outbound.exporters import ExporterService, ExportTarget
from credgate.outbound.webhooks import WebhookService
from credgate.outbound.worker import DeliveryPolicy, OutboundWorker
from credgate.platform.interfaces import SavedQueries
from credgate.security.vault import Vault

__all__ = ["Outbound", "open_outbound"]


@dataclass(eq=False)
class Outbound:
    webhooks: WebhookService
    exporters: ExporterService
    transport: CredentialClients
    worker: OutboundWorker


def open_outbound(
    settings: Settings,
    db: Database,
    vault: Vault,
    *,
    credentials: CredentialDirectory,
    transport: CredentialClients,
    queries: SavedQueries,
) -> Outbound:
    s = settings

    def credential_target(ref: str) -> ExportTarget | None:
        found = credentials.summary(ref)
        return None if found is None else ExportTarget(found.id, found.protocol, found.auth_type)

    def protocol_of(credential_id: str) -> str | None:
        found = credentials.summary(credential_id)
        return None if found is None else found.protocol

    def query_rows(
        query_id: str, parameters: Mapping[str, str]
    ) -> tuple[list[str], list[list[object]]]:
        return queries.run(query_id, parameters, max_rows=s.exporter_max_rows)

    def credential_protocol(ref: str) -> tuple[str, str] | None:
        target = credential_target(ref)
        return None if target is None else (target.id, target.protocol)

    webhooks = WebhookService(db, vault, credential_protocol=credential_protocol)
    exporters = ExporterService(
        db, credential_target=credential_target, query_parameters=queries.parameters
    )
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
