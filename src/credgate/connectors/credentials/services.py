"""Connector credentials: create, list, show, edit and delete; the secrets kept sealed.

Every secret field is encrypted on its own by the vault (AES-256-GCM) under a context that
names the credential, the field and the destination the secret was entered for
(:func:`~credgate.connectors.credentials.models.secret_context`). Pointing a credential
elsewhere (its URL, token or authorization URL, SFTP host, port or host key) needs every
secret entered again, and drops the tokens obtained at run time and a pending consent; a secret
left sealed for the old destination would not even decrypt. Shown credentials are masked
(:func:`masked_view`); the plaintext leaves this module only through
:meth:`ConnectorCredentialService.load_secrets` and :meth:`ConnectorCredentialService.load`, for
the outbound container, never for an answer.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hmac
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from credgate.connectors.consent import ConnectorConsent
from credgate.connectors.credentials.errors import CredentialValidationError
from credgate.connectors.credentials.models import (
    ConnectorCredential,
    ConnectorCredentialSecret,
    destination_digest,
    secret_context,
)
from credgate.connectors.credentials.schemas import (
    OBTAINED_SECRET_FIELDS,
    SECRET_FIELDS,
    AuthType,
    Protocol,
    Secrets,
    ValidatedCredential,
)
from credgate.connectors.credentials.validation import (
    masked_view,
    obtained_tokens_outdated,
    validate_create,
    validate_update,
)
from credgate.connectors.interfaces import CredentialSummary
from credgate.core.audit.services import Actor, record
from credgate.core.changes import publish
from credgate.core.db import Database, name_conflicts, utcnow
from credgate.core.destinations import STRICT, DestinationPolicy
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError, found
from credgate.core.paging import Page, PageRequest, keyset_page
from credgate.security.vault import Vault, VaultError

__all__ = [
    "CHANGE_KIND",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "READ_ONLY_FIELDS",
    "ConnectorCredentialService",
    "CredentialPage",
    "CredentialView",
    "seal_unbound_secrets",
]

_NAME_TAKEN = "a connector credential with this name already exists"

log = logging.getLogger("credgate.connectors.credentials")

CHANGE_KIND: Final = "connector_credential"
DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
MAX_OFFSET: Final = 1_000_000_000
OBJECT_TYPE: Final = "connector_credential"
RECONNECT_NEEDED: Final = "reconnect needed"
#: Fields a shown credential carries that an edit may send back; they are ignored on update, so
#: the body of a GET can be PUT back as it is.
READ_ONLY_FIELDS: Final = frozenset(
    {
        "id",
        "redirect_url",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "last_test",
        "status",
    }
)
_STATUS_MAX: Final = 500
_DETAIL_MAX: Final = 2000


@dataclass(frozen=True, slots=True)
class CredentialView:
    """What may be shown about a credential: its fields with every secret masked."""

    id: str
    masked: Mapping[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str
    updated_by: str
    last_test_at: dt.datetime | None
    last_test_ok: bool | None
    last_test_detail: str
    status: str
    redirect_url: str | None

    @property
    def name(self) -> str:
        return str(self.masked["name"])

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, **self.masked}
        data["authorization"] = dict(self.masked["authorization"])
        if self.redirect_url is not None:
            data["redirect_url"] = self.redirect_url
        data.update(
            created_at=self.created_at.isoformat(),
            updated_at=self.updated_at.isoformat(),
            created_by=self.created_by,
            updated_by=self.updated_by,
            last_test={
                "at": self.last_test_at.isoformat() if self.last_test_at else None,
                "ok": self.last_test_ok,
                "detail": self.last_test_detail,
            },
            status=self.status,
        )
        return data


@dataclass(frozen=True, slots=True)
class CredentialPage:
    total: int
    offset: int
    limit: int
    items: list[CredentialView] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "items": [item.as_dict() for item in self.items],
        }


def _public(row: ConnectorCredential) -> ValidatedCredential:
    """The stored credential without its secrets (enough for the masked view)."""
    return ValidatedCredential(
        name=row.name,
        protocol=Protocol(row.protocol),
        url=row.url,
        auth_type=AuthType(row.auth_type),
        authorization=dict(row.authorization or {}),
    )


def _destination(row: ConnectorCredential) -> str:
    """The digest of where the row's secrets go now (what they must be sealed for)."""
    return destination_digest(_public(row).destination)


def _invalid(exc: CredentialValidationError) -> InvalidInputError:
    return InvalidInputError([FieldError(e.field or "body", e.message) for e in exc.errors])


def _changed_fields(before: ValidatedCredential | None, after: ValidatedCredential) -> list[str]:
    """The names (never the values) of what differs, in the input's dotted form."""
    names: list[str] = []
    if before is None or before.name != after.name:
        names.append("name")
    if before is None or before.protocol is not after.protocol:
        names.append("protocol")
    if before is None or before.url != after.url:
        names.append("url")
    if before is None or before.auth_type is not after.auth_type:
        names.append("authorization.type")
    old_public = dict(before.authorization) if before else {}
    for key in sorted(set(old_public) | set(after.authorization)):
        if old_public.get(key) != after.authorization.get(key):
            names.append(f"authorization.{key}")
    old_secrets = before.secrets if before else Secrets()
    for key in sorted(set(old_secrets) | set(after.secrets)):
        mine, theirs = old_secrets.get(key), after.secrets.get(key)
        if (
            mine is None
            or theirs is None
            or not hmac.compare_digest(mine.encode(), theirs.encode())
        ):
            names.append(f"authorization.{key}")
    return names


_CHOICES: Final = 500


def _summary(row: ConnectorCredential) -> CredentialSummary:
    return CredentialSummary(row.id, row.name, row.protocol, row.auth_type)


class ConnectorCredentialService:
    """Connector credentials in the database, their secrets sealed by ``vault``."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        base_url: str,
        on_change: Callable[[str, str], None] | None = None,
        destinations: DestinationPolicy = STRICT,
    ) -> None:
        self._db = db
        self._vault = vault
        self._base_url = base_url.rstrip("/")
        self._on_change = on_change or (lambda _kind, _key: None)
        self.destinations = destinations

    # Queries ---------------------------------------------------------------------------------

    def redirect_url(self, credential_id: str) -> str:
        """Where the third party sends the authorization code (RFC 6749 section 3.1.2)."""
        return f"{self._base_url}/oauth2/callback/{credential_id}"

    @staticmethod
    def _protocol(protocol: str | None, errors: list[FieldError]) -> Protocol | None:
        if protocol is None or not protocol.strip():
            return None
        try:
            return Protocol(protocol.strip().upper())
        except ValueError:
            allowed = ", ".join(p.value for p in Protocol)
            errors.append(FieldError("protocol", f"allowed values: {allowed}"))
            return None

    def page(self, request: PageRequest, *, protocol: str | None = None) -> Page[CredentialView]:
        """One page of credentials by name (keyset); ``q`` finds a part of the name, the id or
        the URL."""
        errors: list[FieldError] = []
        wanted = self._protocol(protocol, errors)
        if errors:
            raise InvalidInputError(errors)
        query = select(ConnectorCredential)
        if wanted is not None:
            query = query.where(ConnectorCredential.protocol == wanted.value)
        with self._db.session() as session:
            page = keyset_page(
                session,
                query,
                request,
                order=[ConnectorCredential.name],
                search=[ConnectorCredential.name, ConnectorCredential.id, ConnectorCredential.url],
            )
            return page.map(self._view)

    def list(
        self,
        *,
        protocol: str | None = None,
        offset: int = 0,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> CredentialPage:
        """One page of credentials by name at an offset, with the total count of those that
        match (the older way; :meth:`page` reads by cursor)."""
        errors: list[FieldError] = []
        wanted = self._protocol(protocol, errors)
        if not 0 <= offset <= MAX_OFFSET:
            # The upper bound keeps the value inside a 64-bit SQL integer on every back end.
            errors.append(FieldError("offset", f"must be between 0 and {MAX_OFFSET}"))
        if not 1 <= limit <= MAX_PAGE_SIZE:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE_SIZE}"))
        if errors:
            raise InvalidInputError(errors)
        query = select(ConnectorCredential)
        counter = select(func.count()).select_from(ConnectorCredential)
        if wanted is not None:
            query = query.where(ConnectorCredential.protocol == wanted.value)
            counter = counter.where(ConnectorCredential.protocol == wanted.value)
        with self._db.session() as session:
            total = session.scalar(counter) or 0
            rows = session.scalars(
                query.order_by(ConnectorCredential.name, ConnectorCredential.id)
                .offset(offset)
                .limit(limit)
            ).all()
            items = [self._view(row) for row in rows]
        return CredentialPage(total=total, offset=offset, limit=limit, items=items)

    def get(self, credential_id: str) -> CredentialView:
        with self._db.session() as session:
            return self._view(self._row(session, credential_id))

    def find(self, ref: str) -> CredentialView:
        """By id, or else by name (what a person types on the command line)."""
        with self._db.session() as session:
            row = session.scalar(
                select(ConnectorCredential).where(
                    (ConnectorCredential.id == ref) | (ConnectorCredential.name == ref)
                )
            )
            if row is None:
                raise NotFoundError(f"no connector credential with id or name {ref!r}")
            return self._view(row)

    # What other features see (connectors.interfaces.CredentialDirectory); reads no secret.

    def summary(self, ref: str) -> CredentialSummary | None:
        with self._db.session() as session:
            row = session.scalar(
                select(ConnectorCredential).where(
                    (ConnectorCredential.id == ref) | (ConnectorCredential.name == ref)
                )
            )
            return None if row is None else _summary(row)

    def summaries(self) -> builtins.list[CredentialSummary]:
        with self._db.session() as session:
            rows = session.scalars(
                select(ConnectorCredential)
                .order_by(ConnectorCredential.name, ConnectorCredential.id)
                .limit(_CHOICES)
            ).all()
            return [_summary(row) for row in rows]

    def exists(self, credential_id: str) -> bool:
        with self._db.session() as session:
            return session.get(ConnectorCredential, credential_id) is not None

    def load(self, credential_id: str) -> ValidatedCredential:
        """The credential with its entered secrets decrypted: for the outbound container only."""
        with self._db.session() as session:
            return self._stored(self._row(session, credential_id, with_secrets=True))

    def load_secrets(self, credential_id: str, *, destination: str | None = None) -> Secrets:
        """Every secret of the credential, decrypted, including the ones obtained at run time
        (``access_token``, ``refresh_token``): for the outbound container, never for an answer.

        With ``destination`` (a :func:`destination_digest`), nothing is returned once the
        credential points elsewhere: its secrets are no longer for that destination.
        """
        with self._db.session() as session:
            row = self._row(session, credential_id, with_secrets=True)
            current = _destination(row)
            if destination is not None and destination != current:
                return Secrets()
            return Secrets({s.field: self._open(row.id, s, current) for s in row.secrets})

    # Commands --------------------------------------------------------------------------------

    def create(self, data: object, *, actor: Actor) -> CredentialView:
        """Validate ``data`` (the input shape of :func:`validate_create`) and store it.

        Every problem is reported at once (:class:`InvalidInputError`) and nothing is saved.
        """
        try:
            cred = validate_create(data, destinations=self.destinations)
        except CredentialValidationError as exc:
            raise _invalid(exc) from None
        credential_id = str(uuid.uuid4())
        destination = destination_digest(cred.destination)
        now = utcnow()
        with name_conflicts(_NAME_TAKEN), self._db.session() as session:
            self._refuse_taken_name(session, cred.name, None)
            row = ConnectorCredential(
                id=credential_id,
                name=cred.name,
                protocol=cred.protocol.value,
                url=cred.url,
                auth_type=cred.auth_type.value,
                authorization=dict(cred.authorization),
                created_at=now,
                updated_at=now,
                created_by=actor.name,
                updated_by=actor.name,
                last_test_detail="",
                status="",
            )
            for name, value in cred.secrets.items():
                row.secrets.append(self._seal(credential_id, name, value, destination))
            session.add(row)
            session.flush()
            publish(session, CHANGE_KIND, credential_id)
            record(
                session,
                actor,
                "connector_credential.create",
                OBJECT_TYPE,
                credential_id,
                _changed_fields(None, cred),
            )
            view = self._view(row)
        self._on_change(CHANGE_KIND, credential_id)
        return view

    def update(self, credential_id: str, data: object, *, actor: Actor) -> CredentialView:
        """Replace the credential with ``data`` (the full input shape).

        A secret sent back as the mask keeps its stored value (see :func:`validate_update`); a
        new value replaces it; secrets of a previous authorization type are dropped, and so are
        the tokens obtained at run time and a pending consent when
        :func:`obtained_tokens_outdated` says they must be. A credential pointed at another
        destination has every secret entered again, sealed for the new destination.
        """
        with name_conflicts(_NAME_TAKEN), self._db.session() as session:
            row = self._row(session, credential_id, with_secrets=True, for_update=True)
            stored = self._stored(row, usable_only=True)
            wrong_id: list[FieldError] = []
            if isinstance(data, Mapping):
                if "id" in data and data["id"] != credential_id:
                    wrong_id.append(FieldError("id", "does not match the credential being updated"))
                data = {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}
            try:
                cred = validate_update(data, stored, destinations=self.destinations)
            except CredentialValidationError as exc:
                raise InvalidInputError(wrong_id + _invalid(exc).errors) from None
            if wrong_id:
                raise InvalidInputError(wrong_id)
            changed = _changed_fields(stored, cred)
            if "name" in changed:
                self._refuse_taken_name(session, cred.name, credential_id)
            destination = destination_digest(cred.destination)
            drop_tokens = obtained_tokens_outdated(stored, cred)
            keep_obtained = set() if drop_tokens else OBTAINED_SECRET_FIELDS[cred.auth_type]
            existing = {s.field: s for s in row.secrets}
            for name, secret in existing.items():
                if name in cred.secrets or name in keep_obtained:
                    continue
                row.secrets.remove(secret)
                changed.append(f"authorization.{name}")
            for name, value in cred.secrets.items():
                if name not in existing:
                    row.secrets.append(self._seal(credential_id, name, value, destination))
                    continue
                before = stored.secrets.get(name)  # None: sealed for another destination
                if (
                    before is not None
                    and hmac.compare_digest(before.encode(), value.encode())
                    and existing[name].destination == destination
                ):
                    continue  # kept behind the mask, or sent again unchanged
                existing[name].ciphertext = self._vault.encrypt(
                    value, context=secret_context(credential_id, name, destination)
                )
                existing[name].destination = destination
                existing[name].updated_at = utcnow()
            if drop_tokens:
                # A consent started for the old provider or client must not complete against
                # the new one: the code would go to the new token URL.
                session.execute(
                    delete(ConnectorConsent).where(ConnectorConsent.credential_id == credential_id)
                )
            if changed:
                row.name = cred.name
                row.protocol = cred.protocol.value
                row.url = cred.url
                row.auth_type = cred.auth_type.value
                row.authorization = dict(cred.authorization)
                row.updated_at = utcnow()
                row.updated_by = actor.name
                if drop_tokens:
                    authorization_code = cred.auth_type is AuthType.OAUTH2_AUTHORIZATION_CODE
                    row.status = RECONNECT_NEEDED if authorization_code else ""
                session.flush()
                publish(session, CHANGE_KIND, credential_id)
                record(
                    session,
                    actor,
                    "connector_credential.update",
                    OBJECT_TYPE,
                    credential_id,
                    sorted(set(changed)),
                )
            view = self._view(row)
        if changed:
            self._on_change(CHANGE_KIND, credential_id)
        return view

    def delete(self, credential_id: str, *, actor: Actor) -> None:
        """Delete the credential, even while connectors use it: they keep existing and report
        that their credential is missing."""
        with self._db.session() as session:
            row = self._row(session, credential_id)
            session.delete(row)
            session.flush()
            publish(session, CHANGE_KIND, credential_id)
            record(session, actor, "connector_credential.delete", OBJECT_TYPE, credential_id)
        self._on_change(CHANGE_KIND, credential_id)

    # Run-time state (used by the outbound connectors) ------------------------------------------

    def save_obtained_secret(
        self, credential_id: str, field: str, value: str, *, destination: str | None = None
    ) -> bool:
        """Seal a secret obtained at run time (an access or refresh token of OAuth 2.0 types).

        A refresh token that the provider rotates is saved here before it is used again. With
        ``destination`` (the :func:`destination_digest` the token was obtained for), nothing is
        saved if the credential was pointed elsewhere meanwhile; returns whether it was saved.
        """
        with self._db.session() as session:
            row = self._row(session, credential_id, with_secrets=True, for_update=True)
            allowed = OBTAINED_SECRET_FIELDS[AuthType(row.auth_type)]
            if field not in allowed:
                raise ValueError(
                    f"{field!r} is not a run-time secret of type {row.auth_type}; "
                    f"allowed: {', '.join(sorted(allowed)) or 'none'}"
                )
            current = _destination(row)
            if destination is not None and destination != current:
                log.warning(
                    "connector credential %s now points elsewhere: a token obtained for its "
                    "previous destination is not kept",
                    credential_id,
                )
                return False
            sealed = self._vault.encrypt(
                value, context=secret_context(credential_id, field, current)
            )
            for secret in row.secrets:
                if secret.field == field:
                    secret.ciphertext = sealed
                    secret.destination = current
                    secret.updated_at = utcnow()
                    break
            else:
                row.secrets.append(
                    ConnectorCredentialSecret(
                        credential_id=credential_id,
                        field=field,
                        ciphertext=sealed,
                        destination=current,
                    )
                )
        self._on_change(CHANGE_KIND, credential_id)
        return True

    def clear_obtained_secrets(self, credential_id: str, fields: set[str] | None = None) -> None:
        """Forget run-time secrets (all of them, or only ``fields``)."""
        with self._db.session() as session:
            row = self._row(session, credential_id, with_secrets=True, for_update=True)
            obtained_fields = OBTAINED_SECRET_FIELDS[AuthType(row.auth_type)]
            for secret in list(row.secrets):
                if secret.field in obtained_fields and (fields is None or secret.field in fields):
                    row.secrets.remove(secret)
        self._on_change(CHANGE_KIND, credential_id)

    def record_test_result(self, credential_id: str, *, ok: bool, detail: str = "") -> None:
        """Keep the verdict of the latest connection test. ``detail`` must hold no secret."""
        with self._db.session() as session:
            row = self._row(session, credential_id)
            row.last_test_at = utcnow()
            row.last_test_ok = ok
            row.last_test_detail = detail[:_DETAIL_MAX]

    def set_status(self, credential_id: str, status: str) -> None:
        """Say what goes wrong at run time (``""`` when all is well again)."""
        with self._db.session() as session:
            row = self._row(session, credential_id)
            if row.status != status[:_STATUS_MAX]:
                row.status = status[:_STATUS_MAX]
                publish(session, CHANGE_KIND, credential_id)

    # Helpers ---------------------------------------------------------------------------------

    def _seal(
        self, credential_id: str, field: str, value: str, destination: str
    ) -> ConnectorCredentialSecret:
        return ConnectorCredentialSecret(
            credential_id=credential_id,
            field=field,
            ciphertext=self._vault.encrypt(
                value, context=secret_context(credential_id, field, destination)
            ),
            destination=destination,
            updated_at=utcnow(),
        )

    def _open(self, credential_id: str, secret: ConnectorCredentialSecret, current: str) -> str:
        """Decrypt one secret for the credential's current destination ``current``.

        A secret sealed for another destination is refused without trying: only an edit that
        enters it again, or a change made behind credgate's back, can leave one (and the
        vault's associated data would refuse it anyway). Rows sealed before destinations were
        bound (empty ``destination``) open with their original context until they are sealed
        again (:func:`seal_unbound_secrets`).
        """
        if secret.destination and secret.destination != current:
            raise VaultError(
                f"the {secret.field} of connector credential {credential_id} was sealed for "
                "another destination; enter it again"
            )
        return self._vault.decrypt_text(
            secret.ciphertext,
            context=secret_context(credential_id, secret.field, secret.destination),
        )

    def _stored(
        self, row: ConnectorCredential, *, usable_only: bool = False
    ) -> ValidatedCredential:
        """The stored credential with its entered (not run-time) secrets decrypted.

        With ``usable_only``, a secret that does not open for the current destination counts as
        not stored (an edit then asks for it), instead of raising :class:`VaultError`.
        """
        auth_type = AuthType(row.auth_type)
        entered = SECRET_FIELDS[auth_type]
        current = _destination(row)
        secrets: dict[str, str] = {}
        for secret in row.secrets:
            if secret.field not in entered:
                continue
            try:
                secrets[secret.field] = self._open(row.id, secret, current)
            except VaultError:
                if not usable_only:
                    raise
        public = _public(row)
        return ValidatedCredential(
            name=public.name,
            protocol=public.protocol,
            url=public.url,
            auth_type=public.auth_type,
            authorization=dict(public.authorization),
            secrets=Secrets(secrets),
        )

    def _view(self, row: ConnectorCredential) -> CredentialView:
        public = _public(row)
        redirect = (
            self.redirect_url(row.id)
            if public.auth_type is AuthType.OAUTH2_AUTHORIZATION_CODE
            else None
        )
        return CredentialView(
            id=row.id,
            masked=masked_view(public),
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=row.created_by,
            updated_by=row.updated_by,
            last_test_at=row.last_test_at,
            last_test_ok=row.last_test_ok,
            last_test_detail=row.last_test_detail,
            status=row.status,
            redirect_url=redirect,
        )

    @staticmethod
    def _refuse_taken_name(session: Session, name: str, own_id: str | None) -> None:
        query = select(ConnectorCredential.id).where(ConnectorCredential.name == name)
        if own_id is not None:
            query = query.where(ConnectorCredential.id != own_id)
        if session.scalar(query) is not None:
            raise ConflictError("name", "a connector credential with this name already exists")

    @staticmethod
    def _row(
        session: Session,
        credential_id: str,
        *,
        with_secrets: bool = False,
        for_update: bool = False,
    ) -> ConnectorCredential:
        query = select(ConnectorCredential).where(ConnectorCredential.id == credential_id)
        if for_update:
            # Two edits of one credential in flight: the second waits and sees the first. Every
            # writer of secrets holds this lock, so the secrets read next match the row.
            query = query.with_for_update()
            if with_secrets:
                query = query.options(selectinload(ConnectorCredential.secrets))
        elif with_secrets:
            # One statement, so the secrets belong to the very version of the row read (an edit
            # committed in between could otherwise pair new secrets with the old destination).
            query = query.options(joinedload(ConnectorCredential.secrets))
        return found(
            session.scalars(query).unique().one_or_none(),
            f"no connector credential with id {credential_id!r}",
        )


def seal_unbound_secrets(db: Database, vault: Vault) -> int:
    """Seal again, for their credential's current destination, the secrets stored before
    destinations were bound (empty ``destination``). Idempotent; returns how many were sealed.

    Run by ``credgate init`` (and ``serve``) and by the vault's re-encryption commands; each
    credential is done in its own transaction, under the same lock as an edit.
    """
    with db.session() as session:
        ids = session.scalars(
            select(ConnectorCredentialSecret.credential_id)
            .where(ConnectorCredentialSecret.destination == "")
            .distinct()
        ).all()
    sealed = 0
    for credential_id in ids:
        with db.session() as session:
            row = session.scalars(
                select(ConnectorCredential)
                .where(ConnectorCredential.id == credential_id)
                .options(selectinload(ConnectorCredential.secrets))
                .with_for_update()
            ).one_or_none()
            if row is None:
                continue  # deleted meanwhile
            current = _destination(row)
            for secret in row.secrets:
                if secret.destination:
                    continue
                value = vault.decrypt(
                    secret.ciphertext, context=secret_context(row.id, secret.field)
                )
                secret.ciphertext = vault.encrypt(
                    value, context=secret_context(row.id, secret.field, current)
                )
                secret.destination = current
                sealed += 1
    return sealed
