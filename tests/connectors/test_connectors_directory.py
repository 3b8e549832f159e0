"""What outbound sees of connector credentials (``connectors.interfaces.CredentialDirectory``):
id, name, protocol and authorization type, by id or name, read without decrypting a secret."""

from __future__ import annotations

import asyncssh
import pytest
from sqlalchemy import update

from credgate.connectors.credentials.models import ConnectorCredentialSecret
from credgate.connectors.interfaces import CredentialDirectory, CredentialSummary
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.security.vault import VaultError

ACTOR = Actor("tests", "pytest")
PASSWORD = "Pw-directory-5e1d9c0a7b"


def _populate(container: Container) -> tuple[str, str]:
    service = container.connector_credentials
    https = service.create(
        {
            "name": "Zendesk desk",
            "protocol": "HTTPS",
            "url": "https://zendesk.example.com/",
            "authorization": {"type": "BASIC", "username": "svc", "password": PASSWORD},
        },
        actor=ACTOR,
    )
    host_key = asyncssh.generate_private_key("ecdsa-sha2-nistp256").export_public_key("openssh")
    sftp = service.create(
        {
            "name": "Archive drop",
            "protocol": "SFTP",
            "url": "sftp://sftp.example.com:22/",
            "authorization": {
                "username": "exporter",
                "password": PASSWORD,
                "host_key": host_key.decode(),
            },
        },
        actor=ACTOR,
    )
    return https.id, sftp.id


def test_summaries_by_id_or_name_without_a_secret(container: Container) -> None:
    https, sftp = _populate(container)
    directory: CredentialDirectory = container.connector_credentials
    by_id = directory.summary(https)
    assert by_id == CredentialSummary(https, "Zendesk desk", "HTTPS", "BASIC")
    assert directory.summary("Archive drop") == directory.summary(sftp)
    assert directory.summary(sftp) == CredentialSummary(sftp, "Archive drop", "SFTP", "BASIC")
    assert directory.summary("no such credential") is None
    # By name, for a choice; nothing secret in what another feature may show.
    assert [s.name for s in directory.summaries()] == ["Archive drop", "Zendesk desk"]
    assert PASSWORD not in repr(directory.summaries())


def test_a_summary_decrypts_nothing(container: Container) -> None:
    https, _ = _populate(container)
    with container.db.session() as session:
        session.execute(
            update(ConnectorCredentialSecret)
            .where(ConnectorCredentialSecret.credential_id == https)
            .values(ciphertext="damaged")
        )
    with pytest.raises(VaultError):
        container.connector_credentials.load_secrets(https)
    found = container.connector_credentials.summary("Zendesk desk")
    assert found == CredentialSummary(https, "Zendesk desk", "HTTPS", "BASIC")
