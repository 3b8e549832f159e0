"""Upgrading an installation whose admin API tokens never expired (SQLite and PostgreSQL).

Tokens made before the upgrade keep working for the documented 30 days from the upgrade, then
stop; two tokens of one administrator with the same name are told apart by their id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from credgate.admins.services import AdminService
from credgate.core.audit.services import Actor
from credgate.core.db import Database, utcnow
from credgate.migrations import downgrade, migrate
from credgate.security.secrets import ADMIN_TOKEN_PREFIX, SecretHasher, generate_secret

PEPPER = b"p" * 32


def test_old_tokens_get_an_expiry_and_unique_names(database_url: str) -> None:
    db = Database(database_url)
    hasher = SecretHasher(PEPPER)
    tokens = [generate_secret(ADMIN_TOKEN_PREFIX) for _ in range(3)]
    try:
        migrate(db)  # the PostgreSQL test database may already be at the newest revision
        downgrade(db, "0007")  # which also shows the way back works
        now = utcnow()
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO admins (username, password_hash, disabled, created_at) "
                    "VALUES ('admin', 'x', false, :now)"
                ),
                {"now": now},
            )
            admin_id = conn.execute(text("SELECT id FROM admins")).scalar_one()
            for token, name in zip(tokens, ["ci", "ci", "laptop"], strict=True):
                conn.execute(
                    text(
                        "INSERT INTO admin_tokens (admin_id, name, token_hash, created_at) "
                        "VALUES (:admin, :name, :hash, :now)"
                    ),
                    {"admin": admin_id, "name": name, "hash": hasher.hash(token), "now": now},
                )
        before = utcnow()
        migrate(db)
        after = utcnow()

        admins = AdminService(db, hasher)
        listed = sorted(admins.list_tokens("admin"), key=lambda t: t.id)
        assert [t.name for t in listed] == ["ci", f"ci ({listed[1].id})", "laptop"]
        for row in listed:
            assert before + dt.timedelta(days=30) <= row.expires_at <= after + dt.timedelta(days=30)
        for token in tokens:  # still working, for now
            assert admins.check_token(token) is not None

        # A revoked token's id is not given to the next one, on SQLite either.
        last = listed[-1].id
        admins.revoke_token(last, actor=Actor("tests", "pytest"))
        assert admins.issue_token("admin", "new", actor=Actor("tests", "pytest")).id > last
    finally:
        db.dispose()
