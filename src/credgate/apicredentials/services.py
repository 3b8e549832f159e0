"""API credentials: create, list, show, edit, delete, and regenerate the secret.

The secret exists in plaintext only in the value returned by :meth:`create` and
:meth:`regenerate`; the store keeps its keyed hash (see :mod:`credgate.security.secrets`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from credgate.apicredentials.models import ApiCredential, ApiCredentialSecret
from credgate.core.audit.services import Actor, record
from credgate.core.changes import publish
from credgate.core.db import Database, name_conflicts, utcnow
from credgate.core.errors import FieldError, InvalidInputError, NotFoundError
from credgate.core.paging import Page, PageRequest, iterate, keyset_page
from credgate.core.permissions import CATALOGUE, UnknownPermissionError, parse_permissions
from credgate.core.ratelimits import check_limit
from credgate.core.views import wire_dict
from credgate.oauth.clients import CLIENT_CHANGE, BatchClientStore, ClientRecord, ClientStore
from credgate.security.secrets import SecretHasher, generate_client_id, generate_secret

__all__ = [
    "MAX_OVERLAP",
    "ApiCredentialService",
    "CreatedSecret",
    "CredentialView",
    "client_records",
    "client_store",
    "recent_client_records",
]

_NAME_TAKEN = "an API credential with this name already exists"

MAX_OVERLAP = dt.timedelta(days=30)
_NAME_MAX = 200
_DESCRIPTION_MAX = 2000


@dataclass(frozen=True, slots=True)
class CredentialView:
    """What may be shown about a credential: everything but its secret."""

    client_id: str
    name: str
    description: str
    permissions: tuple[str, ...]
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str
    secret_overlap_until: dt.datetime | None
    rate_limit: str | None = None

    def as_dict(self) -> dict[str, object]:
        return wire_dict(self)


@dataclass(frozen=True, slots=True)
class CreatedSecret:
    """The one moment a secret is seen. Its repr hides it."""

    credential: CredentialView
    client_secret: str = field(repr=False)


def _view(row: ApiCredential, now: dt.datetime) -> CredentialView:
    live = [s for s in row.secrets if s.expires_at is None or s.expires_at > now]
    overlap = [s.expires_at for s in live if s.expires_at is not None]
    return CredentialView(
        client_id=row.client_id,
        name=row.name,
        description=row.description,
        permissions=tuple(p.id for p in CATALOGUE if p.id in set(row.permissions)),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        secret_overlap_until=max(overlap) if overlap else None,
        rate_limit=row.rate_limit,
    )


def _check_rate_limit(rate_limit: str | None, errors: list[FieldError]) -> str | None:
    """The stored form of a rate limit; ``""`` (no limit of its own) for an empty one."""
    if rate_limit is None:
        return None
    try:
        return check_limit(rate_limit) or ""
    except ValueError as exc:
        errors.append(FieldError("rate_limit", str(exc)))
        return None


def _check_fields(
    name: str | None,
    description: str | None,
    permissions: Iterable[str] | None,
    errors: list[FieldError] | None = None,
) -> tuple[str | None, str | None, frozenset[str] | None]:
    errors = [] if errors is None else errors
    clean_name = None
    if name is not None:
        clean_name = name.strip()
        if not clean_name:
            errors.append(FieldError("name", "is required"))
        elif len(clean_name) > _NAME_MAX:
            errors.append(FieldError("name", f"must be at most {_NAME_MAX} characters"))
        elif any(ord(ch) < 32 for ch in clean_name):
            errors.append(FieldError("name", "must not contain control characters"))
    if description is not None and len(description) > _DESCRIPTION_MAX:
        errors.append(FieldError("description", f"must be at most {_DESCRIPTION_MAX} characters"))
    perms = None
    if permissions is not None:
        try:
            perms = parse_permissions(permissions)
        except UnknownPermissionError as exc:
            errors.append(FieldError("permissions", str(exc)))
        else:
            if not perms:
                errors.append(FieldError("permissions", "choose at least one permission"))
    if errors:
        raise InvalidInputError(errors)
    return clean_name, description, perms


class ApiCredentialService:
    def __init__(
        self,
        db: Database,
        hasher: SecretHasher,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        self._db = db
        self._hasher = hasher
        self._on_change = on_change or (lambda _kind, _key: None)

    # Queries ---------------------------------------------------------------------------------

    def list(self) -> list[CredentialView]:
        """Every credential, by name, read a page at a time."""
        return list(iterate(self.page))

    def page(self, request: PageRequest) -> Page[CredentialView]:
        """One page, by name; ``q`` finds a part of the name or of the client id."""
        now = utcnow()
        with self._db.session() as session:
            page = keyset_page(
                session,
                select(ApiCredential).options(selectinload(ApiCredential.secrets)),
                request,
                order=[ApiCredential.name],
                search=[ApiCredential.name, ApiCredential.client_id],
            )
            return page.map(lambda row: _view(row, now))

    def get(self, client_id: str) -> CredentialView:
        with self._db.session() as session:
            return _view(self._row(session, client_id), utcnow())

    def find(self, ref: str) -> CredentialView:
        """By client id, or else by name (what a person types on the command line)."""
        with self._db.session() as session:
            row = session.scalar(
                select(ApiCredential)
                .options(selectinload(ApiCredential.secrets))
                .where((ApiCredential.client_id == ref) | (ApiCredential.name == ref))
            )
            if row is None:
                raise NotFoundError(f"no API credential with client id or name {ref!r}")
            return _view(row, utcnow())

    # Commands --------------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        description: str = "",
        permissions: Iterable[str],
        actor: Actor,
        rate_limit: str | None = None,
    ) -> CreatedSecret:
        """``rate_limit`` (``60/minute``) applies to every API family in place of theirs."""
        errors: list[FieldError] = []
        clean_limit = _check_rate_limit(rate_limit, errors)
        clean_name, clean_description, perms = _check_fields(
            name, description or "", list(permissions), errors
        )
        if clean_name is None or perms is None:  # _check_fields raised for these already
            raise InvalidInputError([FieldError("name", "is required")])
        secret = generate_secret()
        client_id = generate_client_id()
        with name_conflicts(_NAME_TAKEN), self._db.session() as session:
            row = ApiCredential(
                client_id=client_id,
                name=clean_name,
                description=clean_description or "",
                permissions=sorted(perms),
                rate_limit=clean_limit or None,
                created_by=actor.name,
            )
            row.secrets.append(ApiCredentialSecret(secret_hash=self._hasher.hash(secret)))
            session.add(row)
            session.flush()
            publish(session, CLIENT_CHANGE, client_id)
            record(
                session,
                actor,
                "api_credential.create",
                "api_credential",
                client_id,
                ["name", "description", "permissions", "client_secret"]
                + (["rate_limit"] if clean_limit else []),
            )
            view = _view(row, utcnow())
        self._on_change(CLIENT_CHANGE, client_id)
        return CreatedSecret(credential=view, client_secret=secret)

    def update(
        self,
        client_id: str,
        *,
        actor: Actor,
        name: str | None = None,
        description: str | None = None,
        permissions: Iterable[str] | None = None,
        disabled: bool | None = None,
        rate_limit: str | None = None,
    ) -> CredentialView:
        """Fields left None stay as they are; ``rate_limit=""`` removes the credential's own."""
        errors: list[FieldError] = []
        clean_limit = _check_rate_limit(rate_limit, errors)
        clean_name, clean_description, perms = _check_fields(
            name, description, None if permissions is None else list(permissions), errors
        )
        with name_conflicts(_NAME_TAKEN), self._db.session() as session:
            row = self._row(session, client_id)
            changed: list[str] = []
            if clean_name is not None and clean_name != row.name:
                row.name = clean_name
                changed.append("name")
            if clean_description is not None and clean_description != row.description:
                row.description = clean_description
                changed.append("description")
            if perms is not None and sorted(perms) != sorted(row.permissions):
                row.permissions = sorted(perms)
                changed.append("permissions")
            if disabled is not None and disabled != row.disabled:
                row.disabled = disabled
                changed.append("disabled")
            if clean_limit is not None and (clean_limit or None) != row.rate_limit:
                row.rate_limit = clean_limit or None
                changed.append("rate_limit")
            if changed:
                row.updated_at = utcnow()
                publish(session, CLIENT_CHANGE, client_id)
                record(
                    session, actor, "api_credential.update", "api_credential", client_id, changed
                )
            session.flush()
            view = _view(row, utcnow())
        if changed:
            self._on_change(CLIENT_CHANGE, client_id)
        return view

    def delete(self, client_id: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            row = self._row(session, client_id)
            session.delete(row)
            publish(session, CLIENT_CHANGE, client_id)
            record(session, actor, "api_credential.delete", "api_credential", client_id)
        self._on_change(CLIENT_CHANGE, client_id)

    def regenerate(
        self, client_id: str, *, actor: Actor, overlap: dt.timedelta = dt.timedelta(0)
    ) -> CreatedSecret:
        """A new secret. The old ones stay valid for ``overlap`` (0: they stop at once)."""
        if overlap < dt.timedelta(0) or overlap > MAX_OVERLAP:
            raise InvalidInputError(
                [FieldError("overlap", f"must be between 0 and {MAX_OVERLAP.days} days")]
            )
        secret = generate_secret()
        now = utcnow()
        with self._db.session() as session:
            row = self._row(session, client_id)
            for old in list(row.secrets):
                if overlap and (old.expires_at is None or old.expires_at > now):
                    old.expires_at = min(old.expires_at or now + overlap, now + overlap)
                else:
                    row.secrets.remove(old)
            row.secrets.append(ApiCredentialSecret(secret_hash=self._hasher.hash(secret)))
            row.updated_at = now
            session.flush()
            publish(session, CLIENT_CHANGE, client_id)
            record(
                session,
                actor,
                "api_credential.regenerate",
                "api_credential",
                client_id,
                ["client_secret"],
            )
            view = _view(row, now)
        self._on_change(CLIENT_CHANGE, client_id)
        return CreatedSecret(credential=view, client_secret=secret)

    # Helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, client_id: str) -> ApiCredential:
        row = session.scalar(
            select(ApiCredential)
            .options(selectinload(ApiCredential.secrets))
            .where(ApiCredential.client_id == client_id)
        )
        if row is None:
            raise NotFoundError(f"no API credential with client id {client_id!r}")
        return row


_RECORD_COLUMNS = (
    ApiCredential.client_id,
    ApiCredential.name,
    ApiCredential.permissions,
    ApiCredential.disabled,
    ApiCredential.rate_limit,
    ApiCredentialSecret.secret_hash,
    ApiCredentialSecret.expires_at,
)


def _client_records(db: Database, query: Any, params: dict[str, Any]) -> dict[str, ClientRecord]:
    now = utcnow()
    rows: dict[str, list[Any]] = {}
    with db.engine.connect() as connection:
        for (
            client_id,
            name,
            permissions,
            disabled,
            limit,
            digest,
            expires,
        ) in connection.execute(query, params):
            row = rows.setdefault(client_id, [name, permissions, disabled, limit, []])
            if digest is not None and (expires is None or expires > now):
                row[4].append((digest, expires.timestamp() if expires else None))
    return {
        client_id: ClientRecord(
            client_id=client_id,
            name=name,
            permissions=frozenset(permissions),
            disabled=disabled,
            secret_hashes=tuple(hashes),
            rate_limit=limit,
        )
        for client_id, (name, permissions, disabled, limit, hashes) in rows.items()
    }


def client_records(db: Database) -> BatchClientStore:
    """The OAuth 2.0 client records of several API credentials, in one query.

    Plain rows rather than ORM objects: a burst of new clients waits on this, and building
    objects for each row would cost more than the query.
    """
    query = (
        select(*_RECORD_COLUMNS)
        .outerjoin(ApiCredentialSecret, ApiCredentialSecret.credential_id == ApiCredential.id)
        .where(ApiCredential.client_id.in_(bindparam("ids", expanding=True)))
    )

    def load(client_ids: Sequence[str]) -> dict[str, ClientRecord]:
        return _client_records(db, query, {"ids": list(client_ids)})

    return load


def recent_client_records(db: Database) -> Callable[[int], dict[str, ClientRecord]]:
    """The OAuth 2.0 client records of the ``limit`` newest API credentials, in one query: what
    a starting node loads so that its first token requests find their clients cached."""
    newest = (
        select(ApiCredential.id)
        .order_by(ApiCredential.id.desc())
        .limit(bindparam("limit"))
        .scalar_subquery()
    )
    query = (
        select(*_RECORD_COLUMNS)
        .outerjoin(ApiCredentialSecret, ApiCredentialSecret.credential_id == ApiCredential.id)
        .where(ApiCredential.id.in_(newest))
    )

    def load(limit: int) -> dict[str, ClientRecord]:
        return _client_records(db, query, {"limit": limit})

    return load


def client_store(db: Database) -> ClientStore:
    """The OAuth 2.0 client records of the API credentials (see :mod:`credgate.oauth.clients`)."""
    load_many = client_records(db)

    def load(client_id: str) -> ClientRecord | None:
        return load_many([client_id]).get(client_id)

    return load
