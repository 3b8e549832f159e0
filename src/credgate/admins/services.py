"""Administrators: accounts, password login, personal API tokens and browser sessions.

Tokens and session ids are random 256-bit values; like API credential secrets, only their keyed
hash is stored, so a copy of the database does not let anyone act as an administrator.

Every admin API token expires (a default and a maximum lifetime from the settings) and can be
listed and revoked. A token is looked up in the database on every request, so a revoked token,
an expired one or one whose administrator is disabled is refused at once on every node.

Whatever turns a browser session into a lasting credential (a new token, another
administrator's password) needs the signed-in administrator's password again: a stolen session
cookie alone, valid for hours, must not become access for months. A token may create another
token, but never one that outlives it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credgate.admins.models import Admin, AdminSession, AdminToken
from credgate.core.audit.services import Actor, record
from credgate.core.db import Database, utcnow
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError, found
from credgate.core.paging import Page, PageRequest, keyset_page
from credgate.core.views import wire_dict
from credgate.security.passwords import hash_password, needs_rehash, verify_password
from credgate.security.secrets import (
    ADMIN_TOKEN_PREFIX,
    SecretHasher,
    generate_secret,
    has_valid_checksum,
)

__all__ = [
    "AdminIdentity",
    "AdminService",
    "AdminTokenView",
    "AdminView",
    "IssuedAdminToken",
    "NewSession",
    "WrongPasswordError",
]

SESSION_LIFETIME = dt.timedelta(hours=12)
MIN_PASSWORD = 12
MAX_PASSWORD = 1000
#: Shorter-lived tokens are of no use to anyone and would only fill the list.
MIN_TOKEN_LIFETIME = dt.timedelta(minutes=1)
#: ``last_used_at`` is written at most this often per token: a busy script must not turn every
#: admin API call into a database write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    """Who a request acts as, and how it authenticated (a session, a token, or neither)."""

    id: int
    username: str
    session_csrf_hash: str | None = field(default=None, repr=False)
    session_hash: str | None = field(default=None, repr=False)
    token_id: int | None = None
    token_expires_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AdminView:
    id: int
    username: str
    disabled: bool
    created_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return wire_dict(self)


@dataclass(frozen=True, slots=True)
class AdminTokenView:
    """A token as it may be shown: never the secret, never its hash."""

    id: int
    admin: str
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()

    def as_dict(self) -> dict[str, Any]:
        return {**wire_dict(self), "expired": self.expired}


@dataclass(frozen=True, slots=True)
class IssuedAdminToken:
    id: int
    name: str
    token: str = field(repr=False)
    created_at: dt.datetime = field(default_factory=utcnow)
    expires_at: dt.datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict[str, Any]:
        # The one place the token is shown: right after it is issued.
        return wire_dict(self)


@dataclass(frozen=True, slots=True)
class NewSession:
    session_id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    expires_at: dt.datetime = field(default_factory=utcnow)


class WrongPasswordError(InvalidInputError):
    """A password given to confirm an action is not the administrator's (422, field named)."""

    def __init__(self, field_name: str) -> None:
        super().__init__([FieldError(field_name, "is not the password of this administrator")])


def _check_new_password(password: str, field_name: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInputError(
            [FieldError(field_name, f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
        )


def _end_sessions(session: Session, admin_id: int, *, keep: str | None = None) -> None:
    query = delete(AdminSession).where(AdminSession.admin_id == admin_id)
    if keep is not None:
        query = query.where(AdminSession.id_hash != keep)
    session.execute(query)


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:g} day{'s' if days != 1 else ''}"


@dataclass(frozen=True, slots=True, eq=False)
class AdminService:
    db: Database = field(repr=False)
    hasher: SecretHasher = field(repr=False)
    _: KW_ONLY
    token_default: dt.timedelta = dt.timedelta(days=30)
    token_max: dt.timedelta = dt.timedelta(days=365)

    # Accounts ---------------------------------------------------------------------------------

    def create(self, username: str, password: str, *, actor: Actor) -> AdminIdentity:
        errors = []
        if not username.strip() or len(username) > 100:
            errors.append(FieldError("username", "must be 1 to 100 characters"))
        if len(password) < MIN_PASSWORD:
            errors.append(FieldError("password", f"must be at least {MIN_PASSWORD} characters"))
        if errors:
            raise InvalidInputError(errors)
        with self.db.session() as session:
            if session.scalar(select(Admin.id).where(Admin.username == username.strip())):
                raise ConflictError("username", "an administrator with this name already exists")
            admin = Admin(username=username.strip(), password_hash=hash_password(password))
            session.add(admin)
            session.flush()
            record(
                session, actor, "admin.create", "admin", admin.username, ["username", "password"]
            )
            return AdminIdentity(admin.id, admin.username)

    def list_admins(self) -> list[AdminView]:
        with self.db.session() as session:
            return [
                AdminView(a.id, a.username, a.disabled, a.created_at)
                for a in session.scalars(select(Admin).order_by(Admin.username))
            ]

    def admins_page(self, request: PageRequest) -> Page[AdminView]:
        """One page of administrators, by user name; ``q`` finds a part of it."""
        with self.db.session() as session:
            page = keyset_page(
                session, select(Admin), request, order=[Admin.username], search=[Admin.username]
            )
            return page.map(lambda a: AdminView(a.id, a.username, a.disabled, a.created_at))

    def get(self, username: str) -> AdminView:
        with self.db.session() as session:
            admin = self._admin(session, username)
            return AdminView(admin.id, admin.username, admin.disabled, admin.created_at)

    @staticmethod
    def _admin(session: Session, username: str) -> Admin:
        return found(
            session.scalar(select(Admin).where(Admin.username == username)),
            f"no administrator named {username!r}",
        )

    def check_password(self, username: str, password: str) -> AdminIdentity | None:
        with self.db.session() as session:
            admin = session.scalar(select(Admin).where(Admin.username == username))
            ok = verify_password(password, admin.password_hash if admin else None)
            if not ok or admin is None or admin.disabled:
                return None
            if needs_rehash(admin.password_hash):
                admin.password_hash = hash_password(password)
            return AdminIdentity(admin.id, admin.username)

    def set_disabled(self, username: str, disabled: bool, *, actor: Actor) -> AdminView:
        """Disable (or enable again) an account. A disabled administrator cannot sign in, and
        their sessions and tokens are refused; the last active administrator stays active."""
        with self.db.session() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Two administrators disabling each other at once must not leave none active:
                # the second waits here, then counts what the first committed. (SQLite runs one
                # writer at a time, and the update below is this transaction's first statement.)
                session.execute(select(Admin.id).order_by(Admin.id).with_for_update())
            changed = cast(
                CursorResult[Any],
                session.execute(
                    update(Admin)
                    .where(Admin.username == username, Admin.disabled != disabled)
                    .values(disabled=disabled)
                    .execution_options(synchronize_session=False)
                ),
            )
            admin = self._admin(session, username)
            if changed.rowcount:
                if disabled:
                    active = session.scalar(
                        select(func.count()).select_from(Admin).where(Admin.disabled.is_(False))
                    )
                    if not active:
                        raise ConflictError(
                            "disabled",
                            "this is the last active administrator; enable or create another first",
                        )
                    _end_sessions(session, admin.id)
                action = "admin.disable" if disabled else "admin.enable"
                record(session, actor, action, "admin", admin.username, ["disabled"])
            return AdminView(admin.id, admin.username, admin.disabled, admin.created_at)

    def change_password(
        self,
        username: str,
        current_password: str,
        new_password: str,
        *,
        actor: Actor,
        keep_session: str | None = None,
    ) -> None:
        """Change an administrator's own password; their other sessions end.

        ``keep_session`` is the hash of the session making the change, which stays open.
        """
        _check_new_password(new_password, "new_password")
        with self.db.session() as session:
            admin = self._admin(session, username)
            stored = admin.password_hash
        if not verify_password(current_password, stored):
            raise WrongPasswordError("current_password")
        with self.db.session() as session:
            admin = self._admin(session, username)
            admin.password_hash = hash_password(new_password)
            _end_sessions(session, admin.id, keep=keep_session)
            record(session, actor, "admin.password_change", "admin", admin.username, ["password"])

    def reset_password(
        self,
        username: str,
        *,
        actor: Actor,
        caller: AdminIdentity | None = None,
        caller_password: str | None = None,
        new_password: str | None = None,
    ) -> str:
        """Set another administrator's password; every session of theirs ends.

        Returns the new password: ``new_password``, or a generated one for the caller to pass on.
        ``caller`` is the administrator asking (None for the command line on the server).
        """
        if caller is not None:
            if caller.username == username:
                raise InvalidInputError(
                    [
                        FieldError(
                            "username",
                            "to change your own password, change it with your current password",
                        )
                    ]
                )
            self.confirm(caller, caller_password)
        password = new_password if new_password is not None else secrets.token_urlsafe(18)
        _check_new_password(password, "new_password")
        with self.db.session() as session:
            admin = self._admin(session, username)
            admin.password_hash = hash_password(password)
            _end_sessions(session, admin.id)
            record(session, actor, "admin.password_reset", "admin", admin.username, ["password"])
        return password

    def confirm(
        self, caller: AdminIdentity, password: str | None, field_name: str = "password"
    ) -> None:
        """Raise unless ``caller`` authenticated with a token or ``password`` is theirs."""
        if caller.token_id is not None:
            return
        if not password:
            raise InvalidInputError(
                [FieldError(field_name, "enter your password to confirm this action")]
            )
        with self.db.session() as session:
            admin = session.get(Admin, caller.id)
            stored = admin.password_hash if admin is not None and not admin.disabled else None
        if not verify_password(password, stored):
            raise WrongPasswordError(field_name)

    # Personal API tokens ----------------------------------------------------------------------

    def _lifetime(self, ttl: dt.timedelta | None) -> dt.timedelta:
        if ttl is None:
            return self.token_default
        if ttl < MIN_TOKEN_LIFETIME:
            raise InvalidInputError([FieldError("expires_in", "must be at least one minute")])
        if ttl > self.token_max:
            raise InvalidInputError(
                [FieldError("expires_in", f"must be at most {_days(self.token_max)}")]
            )
        return ttl

    def issue_token(
        self,
        username: str,
        name: str,
        *,
        actor: Actor,
        ttl: dt.timedelta | None = None,
        not_after: dt.datetime | None = None,
    ) -> IssuedAdminToken:
        """A new token for ``username``, valid for ``ttl`` (default: the configured default).

        With ``not_after``, the token expires by then at the latest; asking for longer is an error.
        """
        errors = []
        if not name.strip() or len(name) > 200:
            errors.append(FieldError("name", "must be 1 to 200 characters"))
        lifetime = self._lifetime(ttl)
        now = utcnow()
        expires = now + lifetime
        if not_after is not None and expires > not_after:
            if ttl is not None:
                errors.append(
                    FieldError(
                        "expires_in",
                        "a token cannot outlive the admin API token that creates it "
                        f"(that one expires {not_after:%Y-%m-%d %H:%M} UTC)",
                    )
                )
            expires = not_after
        if errors:
            raise InvalidInputError(errors)
        token = generate_secret(ADMIN_TOKEN_PREFIX)
        taken = ConflictError("name", "this administrator already has a token with this name")
        try:
            with self.db.session() as session:
                admin = self._admin(session, username)
                if session.scalar(
                    select(AdminToken.id).where(
                        AdminToken.admin_id == admin.id, AdminToken.name == name.strip()
                    )
                ):
                    raise taken
                row = AdminToken(
                    admin_id=admin.id,
                    name=name.strip(),
                    token_hash=self.hasher.hash(token),
                    created_at=now,
                    expires_at=expires,
                )
                session.add(row)
                session.flush()
                record(
                    session,
                    actor,
                    "admin_token.create",
                    "admin_token",
                    str(row.id),
                    ["name", "token", "expires_at"],
                )
                return IssuedAdminToken(row.id, row.name, token, now, expires)
        except IntegrityError:
            if name.strip() in {t.name for t in self.list_tokens(username)}:
                raise taken from None  # the same name, created at the same moment
            raise

    def mint_token(
        self,
        caller: AdminIdentity,
        name: str,
        *,
        actor: Actor,
        ttl: dt.timedelta | None = None,
        password: str | None = None,
    ) -> IssuedAdminToken:
        """A token for the caller: from a session with their password, from a token for no
        longer than that token lives."""
        self.confirm(caller, password)
        return self.issue_token(
            caller.username, name, actor=actor, ttl=ttl, not_after=caller.token_expires_at
        )

    def list_tokens(self, username: str | None = None) -> list[AdminTokenView]:
        """Every token (of ``username``, when given), newest first."""
        with self.db.session() as session:
            query = (
                select(AdminToken, Admin.username)
                .join(Admin, Admin.id == AdminToken.admin_id)
                .order_by(AdminToken.created_at.desc(), AdminToken.id.desc())
            )
            if username is not None:
                query = query.where(Admin.id == self._admin(session, username).id)
            return [
                AdminTokenView(t.id, owner, t.name, t.created_at, t.expires_at, t.last_used_at)
                for t, owner in session.execute(query)
            ]

    def tokens_page(
        self, request: PageRequest, username: str | None = None
    ) -> Page[AdminTokenView]:
        """One page of tokens (of ``username``, when given), newest first; ``q`` finds a part of
        the token's name."""
        with self.db.session() as session:
            query = select(AdminToken)
            if username is not None:
                query = query.where(AdminToken.admin_id == self._admin(session, username).id)
            page = keyset_page(
                session,
                query,
                request,
                order=[AdminToken.created_at, AdminToken.id],
                search=[AdminToken.name],
                descending=True,
            )
            wanted = {t.admin_id for t in page.items}
            owners = dict(
                session.execute(select(Admin.id, Admin.username).where(Admin.id.in_(wanted))).all()
            )
            return page.map(
                lambda t: AdminTokenView(
                    t.id, owners[t.admin_id], t.name, t.created_at, t.expires_at, t.last_used_at
                )
            )

    def token_id(self, username: str, name: str) -> int:
        with self.db.session() as session:
            admin = self._admin(session, username)
            token_id = session.scalar(
                select(AdminToken.id).where(
                    AdminToken.admin_id == admin.id, AdminToken.name == name
                )
            )
            if token_id is None:
                raise NotFoundError(f"{username!r} has no admin API token named {name!r}")
            return token_id

    def revoke_token(self, token_id: int, *, actor: Actor) -> None:
        """Delete a token: the next request that presents it is refused, on every node."""
        with self.db.session() as session:
            row = found(session.get(AdminToken, token_id), f"no admin API token with id {token_id}")
            session.delete(row)
            record(session, actor, "admin_token.revoke", "admin_token", str(token_id))

    def check_token(self, token: str) -> AdminIdentity | None:
        if not has_valid_checksum(token, ADMIN_TOKEN_PREFIX):
            return None
        digest = self.hasher.hash(token)
        with self.db.session() as session:
            row = session.execute(
                select(
                    AdminToken.id,
                    AdminToken.expires_at,
                    AdminToken.last_used_at,
                    Admin.id,
                    Admin.username,
                    Admin.disabled,
                )
                .join(Admin, Admin.id == AdminToken.admin_id)
                .where(AdminToken.token_hash == digest)
            ).first()
            if row is None:
                return None
            token_id, expires_at, last_used_at, admin_id, username, disabled = row
            now = utcnow()
            if disabled or expires_at <= now:
                return None
            if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
                session.execute(
                    update(AdminToken)
                    .where(AdminToken.id == token_id)
                    .values(last_used_at=now)
                    .execution_options(synchronize_session=False)
                )
            return AdminIdentity(admin_id, username, token_id=token_id, token_expires_at=expires_at)

    # Browser sessions -------------------------------------------------------------------------

    def open_session(self, identity: AdminIdentity) -> NewSession:
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = utcnow() + SESSION_LIFETIME
        with self.db.session() as session:
            session.add(
                AdminSession(
                    id_hash=self.hasher.hash(session_id),
                    admin_id=identity.id,
                    csrf_hash=self.hasher.hash(csrf),
                    expires_at=expires,
                )
            )
            session.execute(delete(AdminSession).where(AdminSession.expires_at < utcnow()))
        return NewSession(session_id, csrf, expires)

    def check_session(self, session_id: str) -> AdminIdentity | None:
        id_hash = self.hasher.hash(session_id)
        with self.db.session() as session:
            row = session.execute(
                select(AdminSession, Admin)
                .join(Admin, Admin.id == AdminSession.admin_id)
                .where(AdminSession.id_hash == id_hash)
            ).first()
            if row is None:
                return None
            sess, admin = row
            if admin.disabled or sess.expires_at <= utcnow():
                return None
            return AdminIdentity(admin.id, admin.username, sess.csrf_hash, id_hash)

    def check_csrf(self, identity: AdminIdentity, csrf_token: str | None) -> bool:
        if identity.session_csrf_hash is None or not csrf_token:
            return False
        return self.hasher.verify(csrf_token, identity.session_csrf_hash)

    def close_session(self, session_id: str) -> None:
        with self.db.session() as session:
            session.execute(
                delete(AdminSession).where(AdminSession.id_hash == self.hasher.hash(session_id))
            )
