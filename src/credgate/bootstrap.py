"""Setting up an installation: ``credgate init``, and ``credgate serve``'s idempotent first steps.

Creates the master key and the pepper when they are not supplied (see
:mod:`credgate.security.keyfiles`), migrates the schema, checks the keys against the database,
and adds the first signing key and the first administrator.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from credgate.admins.models import Admin
from credgate.connectors.credentials.services import seal_unbound_secrets
from credgate.core.audit.services import Actor, record
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.migrations import migrate
from credgate.security.keyfiles import check_file_modes, check_keys, open_keys
from credgate.security.keys import create_signing_key
from credgate.security.models import SigningKey
from credgate.security.passwords import hash_password
from credgate.security.vault import Vault

__all__ = ["InitReport", "initialise"]

_INIT_ACTOR = Actor(name="credgate", source="init")


@dataclass
class InitReport:
    created_files: list[Path] = field(default_factory=list)
    created_signing_key: str | None = None
    admin_username: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    bound_secrets: int = 0
    warnings: list[str] = field(default_factory=list)


def initialise(
    settings: Settings, db: Database, *, create_keys: bool = True
) -> tuple[Vault, bytes, InitReport]:
    """Idempotent: migrate, check or create the keys, add a signing key and the first admin."""
    report = InitReport()
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    vault, pepper = open_keys(settings, create=create_keys, created=report.created_files)
    migrate(db)
    check_keys(db, vault, pepper)
    # Connector secrets stored before credgate bound them to their destination are bound now.
    report.bound_secrets = seal_unbound_secrets(db, vault)
    with db.session() as session:
        if session.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_(None))) is None:
            report.created_signing_key = create_signing_key(session, vault).kid
            record(
                session,
                _INIT_ACTOR,
                "signing_key.create",
                "signing_key",
                report.created_signing_key,
            )
        if session.scalar(select(Admin.id).limit(1)) is None:
            password = (
                settings.admin_password.get_secret_value()
                if settings.admin_password is not None
                else secrets.token_urlsafe(18)
            )
            session.add(
                Admin(username=settings.admin_username, password_hash=hash_password(password))
            )
            report.admin_username = settings.admin_username
            record(
                session,
                _INIT_ACTOR,
                "admin.create",
                "admin",
                settings.admin_username,
                ["username", "password"],
            )
            if settings.admin_password is None:
                report.admin_password = password
    report.warnings = check_file_modes(settings)
    return vault, pepper, report
