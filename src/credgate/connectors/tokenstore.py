"""The database-backed :class:`~credgate.connectors.auth.TokenStore` of one connector credential.

* **The token** is kept as a run-time secret of the credential: the JSON of
  :meth:`Token.to_dict`, sealed by the vault under ``connector_credential:{id}:access_token``
  (see :meth:`ConnectorCredentialService.save_obtained_secret`). :meth:`save` returns after the
  transaction is committed, so a refresh token rotated by the provider is durable before it is
  used again. A store made for one destination (the credential as it read when its auth was
  built) neither reads nor saves a token once the credential points elsewhere.
* **The renewal lease** is one row per credential in ``connector_token_leases``. Taking it is an
  atomic compare-and-set: an ``UPDATE ... WHERE holder = me OR lease_until < now``, and when no
  row exists yet an ``INSERT`` that the primary key lets only one process win. Both work the
  same on SQLite and PostgreSQL. Lease times are the wall clock of the processes, which are
  assumed to agree to well within a lease (60 s).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import KW_ONLY, dataclass
from typing import Any, Final, cast

from sqlalchemy import CursorResult, ForeignKey, String, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from credgate.connectors.auth import Token
from credgate.connectors.credentials.services import ConnectorCredentialService
from credgate.core.db import Base, Database, UTCDateTime, utcnow
from credgate.core.errors import NotFoundError

__all__ = ["TOKEN_FIELD", "ConnectorTokenLease", "DatabaseTokenStore"]

log = logging.getLogger("credgate.connectors.tokenstore")

#: The run-time secret field that holds the token JSON (both OAuth 2.0 types have it).
TOKEN_FIELD: Final = "access_token"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ConnectorTokenLease(Base):
    """Who renews the token of a credential right now, and until when (empty holder: nobody)."""

    __tablename__ = "connector_token_leases"

    credential_id: Mapped[str] = mapped_column(
        ForeignKey("connector_credentials.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"ConnectorTokenLease(credential_id={self.credential_id!r})"


@dataclass(frozen=True, slots=True, eq=False)
class DatabaseTokenStore:
    """The token and renewal lease of one credential, shared by every process on ``db``."""

    # The handwritten __repr__ below names only the credential.
    db: Database
    credentials: ConnectorCredentialService
    credential_id: str
    _: KW_ONLY
    destination: str | None = None

    def __repr__(self) -> str:
        return f"DatabaseTokenStore(credential_id={self.credential_id!r})"

    # Token ------------------------------------------------------------------------------------

    def load(self) -> Token | None:
        try:
            raw = self.credentials.load_secrets(
                self.credential_id, destination=self.destination
            ).get(TOKEN_FIELD)
        except NotFoundError:
            return None
        if raw is None:
            return None
        try:
            return Token.from_dict(json.loads(raw))
        except (ValueError, TypeError):
            # Never the value: it is a secret. A token that cannot be read is fetched anew.
            log.warning("stored token of connector credential %s is unreadable", self.credential_id)
            return None

    def save(self, token: Token) -> None:
        self.credentials.save_obtained_secret(
            self.credential_id,
            TOKEN_FIELD,
            json.dumps(token.to_dict(), separators=(",", ":")),
            destination=self.destination,
        )

    # Lease ------------------------------------------------------------------------------------

    def try_acquire_lease(self, holder: str, ttl: float) -> bool:
        now = utcnow()
        until = now + dt.timedelta(seconds=ttl)
        lease = ConnectorTokenLease
        with self.db.session() as session:
            taken = session.execute(
                update(lease)
                .where(lease.credential_id == self.credential_id)
                .where((lease.holder == holder) | (lease.lease_until <= now))
                .values(holder=holder, lease_until=until)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], taken).rowcount == 1:
                return True
        try:
            with self.db.session() as session:
                session.execute(
                    insert(lease).values(
                        credential_id=self.credential_id, holder=holder, lease_until=until
                    )
                )
        except IntegrityError:
            # The row exists (held by another, or inserted by a competitor just now), or the
            # credential is gone: either way, not ours.
            return False
        return True

    def release_lease(self, holder: str) -> None:
        lease = ConnectorTokenLease
        with self.db.session() as session:
            session.execute(
                update(lease)
                .where(lease.credential_id == self.credential_id)
                .where(lease.holder == holder)
                .values(holder="", lease_until=_EPOCH)
                .execution_options(synchronize_session=False)
            )
