"""Administrators: password login, personal API tokens and browser sessions.

Tokens and session ids are random 256-bit values; like API credential secrets, only their keyed
hash is stored, so a copy of the database does not let anyone act as an administrator.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from credgate.admins.models import Admin, AdminSession, AdminToken
from credgate.audit.services import Actor, record
from credgate.db import Database, utcnow
from credgate.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.security.passwords import hash_password, needs_rehash, verify_password
from credgate.security.secrets import (
    ADMIN_TOKEN_PREFIX,
    SecretHasher,
    generate_secret,
    has_valid_checksum,
)

__all__ = ["AdminIdentity", "AdminService", "IssuedAdminToken", "NewSession"]

SESSION_LIFETIME = dt.timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    id: int
    username: str
    session_csrf_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class IssuedAdminToken:
    id: int
    name: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NewSession:
    session_id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    expires_at: dt.datetime = field(default_factory=utcnow)


class AdminService:
    def __init__(self, db: Database, hasher: SecretHasher) -> None:
        self._db = db
        self._hasher = hasher

    def create(self, username: str, password: str, *, actor: Actor) -> AdminIdentity:
        errors = []
        if not username.strip() or len(username) > 100:
            errors.append(FieldError("username", "must be 1 to 100 characters"))
        if len(password) < 12:
            errors.append(FieldError("password", "must be at least 12 characters"))
        if errors:
            raise InvalidInputError(errors)
        with self._db.session() as session:
            if session.scalar(select(Admin.id).where(Admin.username == username.strip())):
                raise ConflictError("username", "an administrator with this name already exists")
            admin = Admin(username=username.strip(), password_hash=hash_password(password))
            session.add(admin)
            session.flush()
            record(
                session, actor, "admin.create", "admin", admin.username, ["username", "password"]
            )
            return AdminIdentity(admin.id, admin.username)

    def check_password(self, username: str, password: str) -> AdminIdentity | None:
        with self._db.session() as session:
            admin = session.scalar(select(Admin).where(Admin.username == username))
            ok = verify_password(password, admin.password_hash if admin else None)
            if not ok or admin is None or admin.disabled:
                return None
            if needs_rehash(admin.password_hash):
                admin.password_hash = hash_password(password)
            return AdminIdentity(admin.id, admin.username)

    # Personal API tokens ----------------------------------------------------------------------

    def issue_token(
        self, username: str, name: str, *, actor: Actor, ttl: dt.timedelta | None = None
    ) -> IssuedAdminToken:
        if not name.strip() or len(name) > 200:
            raise InvalidInputError([FieldError("name", "must be 1 to 200 characters")])
        token = generate_secret(ADMIN_TOKEN_PREFIX)
        with self._db.session() as session:
            admin = session.scalar(select(Admin).where(Admin.username == username))
            if admin is None:
                raise NotFoundError(f"no administrator named {username!r}")
            row = AdminToken(
                admin_id=admin.id,
                name=name.strip(),
                token_hash=self._hasher.hash(token),
                expires_at=utcnow() + ttl if ttl else None,
            )
            session.add(row)
            session.flush()
            record(
                session, actor, "admin_token.create", "admin_token", str(row.id), ["name", "token"]
            )
            return IssuedAdminToken(row.id, row.name, token)

    def check_token(self, token: str) -> AdminIdentity | None:
        if not has_valid_checksum(token, ADMIN_TOKEN_PREFIX):
            return None
        digest = self._hasher.hash(token)
        with self._db.session() as session:
            row = session.execute(
                select(AdminToken, Admin)
                .join(Admin, Admin.id == AdminToken.admin_id)
                .where(AdminToken.token_hash == digest)
            ).first()
            if row is None:
                return None
            token_row, admin = row
            now = utcnow()
            if admin.disabled or (token_row.expires_at is not None and token_row.expires_at <= now):
                return None
            token_row.last_used_at = now
            return AdminIdentity(admin.id, admin.username)

    # Browser sessions -------------------------------------------------------------------------

    def open_session(self, identity: AdminIdentity) -> NewSession:
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = utcnow() + SESSION_LIFETIME
        with self._db.session() as session:
            session.add(
                AdminSession(
                    id_hash=self._hasher.hash(session_id),
                    admin_id=identity.id,
                    csrf_hash=self._hasher.hash(csrf),
                    expires_at=expires,
                )
            )
            session.execute(delete(AdminSession).where(AdminSession.expires_at < utcnow()))
        return NewSession(session_id, csrf, expires)

    def check_session(self, session_id: str) -> AdminIdentity | None:
        with self._db.session() as session:
            row = session.execute(
                select(AdminSession, Admin)
                .join(Admin, Admin.id == AdminSession.admin_id)
                .where(AdminSession.id_hash == self._hasher.hash(session_id))
            ).first()
            if row is None:
                return None
            sess, admin = row
            if admin.disabled or sess.expires_at <= utcnow():
                return None
            return AdminIdentity(admin.id, admin.username, sess.csrf_hash)

    def check_csrf(self, identity: AdminIdentity, csrf_token: str | None) -> bool:
        if identity.session_csrf_hash is None or not csrf_token:
            return False
        return self._hasher.verify(csrf_token, identity.session_csrf_hash)

    def close_session(self, session_id: str) -> None:
        with self._db.session() as session:
            session.execute(
                delete(AdminSession).where(AdminSession.id_hash == self._hasher.hash(session_id))
            )
