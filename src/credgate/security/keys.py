"""Token-signing keys: ES256 keys kept encrypted in the database, rotated without breaking tokens.

The newest unretired key signs. Rotation retires it and adds the next generation; the retired key
stays in the JWKS until ``publish_until``, the moment the last token it signed expires, so a
resource server that fetched the JWKS keeps verifying tokens across a rotation.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credgate.core.db import utcnow
from credgate.security.models import SigningKey
from credgate.security.vault import Vault

__all__ = [
    "KeySet",
    "LoadedKey",
    "create_signing_key",
    "load_key_set",
    "rotate_signing_key",
]

ALGORITHM = "ES256"


def _context(kid: str) -> str:
    return f"signing_key:{kid}"


@dataclass(frozen=True, slots=True)
class LoadedKey:
    kid: str
    generation: int
    key: ECKey = field(repr=False)
    public_jwk: dict[str, str]
    created_at: dt.datetime
    retired_at: dt.datetime | None
    publish_until: dt.datetime | None


@dataclass(frozen=True, slots=True)
class KeySet:
    """What a node holds in memory: the signing key and every key it still publishes."""

    active: LoadedKey
    published: tuple[LoadedKey, ...]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self.published]}

    def jwks_json(self) -> bytes:
        return json.dumps(self.jwks(), separators=(",", ":")).encode()

    def verification_key(self, kid: str) -> ECKey | None:
        for loaded in self.published:
            if loaded.kid == kid:
                return loaded.key
        return None


def create_signing_key(
    session: Session, vault: Vault, *, generation: int | None = None
) -> SigningKey:
    """Add a new key (the next generation unless one is given) and return its row."""
    if generation is None:
        generation = (session.scalar(select(func.max(SigningKey.generation))) or 0) + 1
    key = ECKey.generate_key("P-256", auto_kid=True)
    kid = str(key.kid)
    public = {**key.as_dict(private=False), "use": "sig", "alg": ALGORITHM, "kid": kid}
    row = SigningKey(
        kid=kid,
        generation=generation,
        alg=ALGORITHM,
        private_key=vault.encrypt(json.dumps(key.as_dict(private=True)), context=_context(kid)),
        public_jwk=public,
    )
    session.add(row)
    session.flush()
    return row


def rotate_signing_key(session: Session, vault: Vault, *, publish_for: dt.timedelta) -> SigningKey:
    """Retire the signing key (published for ``publish_for`` more) and add the next one."""
    now = utcnow()
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
        row.publish_until = now + publish_for
    return create_signing_key(session, vault)


def load_key_set(session: Session, vault: Vault, *, now: dt.datetime | None = None) -> KeySet:
    """Decrypt the keys this node needs. Raises :class:`LookupError` when there is no signing key."""
    now = now or utcnow()
    rows = session.scalars(select(SigningKey).order_by(SigningKey.generation.desc())).all()
    loaded: list[LoadedKey] = []
    for row in rows:
        if (
            row.retired_at is not None
            and row.publish_until is not None
            and row.publish_until <= now
        ):
            continue
        jwk = json.loads(vault.decrypt_text(row.private_key, context=_context(row.kid)))
        loaded.append(
            LoadedKey(
                kid=row.kid,
                generation=row.generation,
                key=ECKey.import_key(jwk),
                public_jwk=dict(row.public_jwk),
                created_at=row.created_at,
                retired_at=row.retired_at,
                publish_until=row.publish_until,
            )
        )
    active = next((k for k in loaded if k.retired_at is None), None)
    if active is None:
        raise LookupError("no active signing key: run `credgate init` or `credgate keys rotate`")
    return KeySet(active=active, published=tuple(loaded))
