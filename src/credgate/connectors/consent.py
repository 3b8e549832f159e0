"""Pending consent round-trips of OAuth 2.0 authorization code credentials (RFC 6749 §4.1).

When an administrator starts a consent, the ``state`` and the PKCE ``code_verifier``
(RFC 7636 §4.1) stay here, sealed by the vault under ``connector_consent:{credential_id}``,
until the browser comes back. A pending consent is

* **short-lived**: it expires after :data:`CONSENT_TTL` (10 minutes, as RFC 6749 §4.1.2
  recommends for the code itself);
* **single-use**: :meth:`ConsentStore.take` deletes it in the same transaction that reads it,
  so a replayed callback finds nothing;
* **claimed only with its state**: the callback needs no session, so :meth:`ConsentStore.take`
  compares the ``state`` it brings (in constant time) before anything is consumed; a request with
  a wrong or missing state leaves the consent pending for the real callback;
* **one per credential**: starting again replaces the previous one; an edit that changes where
  the credential's secrets go drops it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final, cast

from sqlalchemy import CursorResult, ForeignKey, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from credgate.core.db import Base, Database, UTCDateTime, utcnow
from credgate.security.rotation import sealed_column
from credgate.security.vault import Vault

__all__ = [
    "CONSENT_TTL",
    "ConnectorConsent",
    "ConsentStore",
    "PendingConsent",
    "StateMismatch",
    "consent_context",
]

CONSENT_TTL: Final = dt.timedelta(minutes=10)


def consent_context(credential_id: str) -> str:
    """The vault context of a credential's pending consent."""
    return f"connector_consent:{credential_id}"


class ConnectorConsent(Base):
    """A consent that was started and has not come back yet (state and verifier sealed)."""

    __tablename__ = "connector_consents"

    credential_id: Mapped[str] = mapped_column(
        ForeignKey("connector_credentials.id", ondelete="CASCADE"), primary_key=True
    )
    sealed: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"ConnectorConsent(credential_id={self.credential_id!r})"


@dataclass(frozen=True, slots=True, repr=False)
class PendingConsent:
    state: str
    code_verifier: str
    expired: bool

    def __repr__(self) -> str:
        return f"PendingConsent(state=[secure], code_verifier=[secure], expired={self.expired})"


class StateMismatch(Exception):
    """The callback's ``state`` is not the pending consent's; the consent stays pending."""


@dataclass(frozen=True, slots=True, eq=False)
class ConsentStore:
    """Keeps the pending consent of each credential, sealed."""

    db: Database = field(repr=False)
    vault: Vault = field(repr=False)
    _: KW_ONLY
    ttl: dt.timedelta = CONSENT_TTL

    def put(self, credential_id: str, *, state: str, code_verifier: str) -> None:
        """Remember a new consent, replacing any earlier one of the credential."""
        plaintext = json.dumps({"state": state, "code_verifier": code_verifier})
        sealed = self.vault.encrypt(plaintext, context=consent_context(credential_id))
        with self.db.session() as session:
            session.execute(
                delete(ConnectorConsent).where(ConnectorConsent.credential_id == credential_id)
            )
            session.add(
                ConnectorConsent(
                    credential_id=credential_id, sealed=sealed, expires_at=utcnow() + self.ttl
                )
            )

    def take(self, credential_id: str, state: str) -> PendingConsent | None:
        """Remove and return the credential's pending consent if ``state`` is its state.

        Returns ``None`` if no consent is pending; raises :class:`StateMismatch`, leaving the
        consent pending, if ``state`` is wrong or empty.
        """
        with self.db.session() as session:
            row = session.execute(
                select(ConnectorConsent.sealed, ConnectorConsent.expires_at).where(
                    ConnectorConsent.credential_id == credential_id
                )
            ).one_or_none()
            if row is None:
                return None
            sealed, expires_at = row
            data = json.loads(
                self.vault.decrypt_text(sealed, context=consent_context(credential_id))
            )
            expected = str(data["state"])
            if not state or not hmac.compare_digest(state.encode(), expected.encode()):
                raise StateMismatch
            # Only the caller whose DELETE removes the row may use it: two callbacks racing
            # with the same state cannot both get it.
            gone = session.execute(
                delete(ConnectorConsent)
                .where(ConnectorConsent.credential_id == credential_id)
                .where(ConnectorConsent.sealed == sealed)
            )
            if cast(CursorResult[Any], gone).rowcount != 1:
                return None
        return PendingConsent(
            state=expected,
            code_verifier=str(data["code_verifier"]),
            expired=utcnow() >= expires_at,
        )


SEALED_CONSENTS = sealed_column(
    "pending connector consent",
    ConnectorConsent,
    ("credential_id",),
    "sealed",
    lambda k: consent_context(str(k["credential_id"])),
)
"""How master-key rotation re-encrypts pending consents (:mod:`credgate.security.rotation`)."""
