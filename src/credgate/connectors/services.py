"""Connector records: create, list, show and delete; each reports whether its credential exists.

Webhooks and data exporters build on these records. A connector whose credential was deleted
stays readable and reports the state ``credential missing`` instead of failing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credgate.connectors.credentials.models import ConnectorCredential
from credgate.connectors.models import Connector
from credgate.core.audit.services import Actor, record
from credgate.core.db import Database, utcnow
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, found

__all__ = [
    "CONNECTOR_KINDS",
    "STATE_CREDENTIAL_MISSING",
    "STATE_OK",
    "ConnectorService",
    "ConnectorView",
]

CONNECTOR_KINDS: Final = ("webhook", "exporter")
STATE_OK: Final = "ok"
STATE_CREDENTIAL_MISSING: Final = "credential missing"
_NAME_MAX: Final = 200


@dataclass(frozen=True, slots=True)
class ConnectorView:
    id: str
    name: str
    kind: str
    credential_id: str | None
    credential_name: str | None
    created_at: dt.datetime
    created_by: str

    @property
    def state(self) -> str:
        return STATE_OK if self.credential_id is not None else STATE_CREDENTIAL_MISSING

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "credential_id": self.credential_id,
            "credential_name": self.credential_name,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def _view(row: Connector, credential_name: str | None) -> ConnectorView:
    return ConnectorView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        credential_id=row.credential_id,
        credential_name=credential_name,
        created_at=row.created_at,
        created_by=row.created_by,
    )


class ConnectorService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, *, name: str, kind: str, credential_id: str, actor: Actor) -> ConnectorView:
        errors: list[FieldError] = []
        clean = name.strip()
        if not clean:
            errors.append(FieldError("name", "is required"))
        elif len(clean) > _NAME_MAX or any(ord(ch) < 32 for ch in clean):
            errors.append(
                FieldError("name", f"must be at most {_NAME_MAX} characters, without line breaks")
            )
        if kind not in CONNECTOR_KINDS:
            errors.append(FieldError("kind", f"allowed values: {', '.join(CONNECTOR_KINDS)}"))
        with self._db.session() as session:
            credential = session.get(ConnectorCredential, credential_id)
            if credential is None:
                errors.append(FieldError("credential_id", "no connector credential with this id"))
            if errors:
                raise InvalidInputError(errors)
            if session.scalar(select(Connector.id).where(Connector.name == clean)) is not None:
                raise ConflictError("name", "a connector with this name already exists")
            row = Connector(
                id=str(uuid.uuid4()),
                name=clean,
                kind=kind,
                credential_id=credential_id,
                created_at=utcnow(),
                created_by=actor.name,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise ConflictError("name", "a connector with this name already exists") from exc
            record(
                session,
                actor,
                "connector.create",
                "connector",
                row.id,
                ["name", "kind", "credential_id"],
            )
            return _view(row, credential.name if credential else None)

    def list(self) -> list[ConnectorView]:
        with self._db.session() as session:
            rows = session.execute(
                select(Connector, ConnectorCredential.name)
                .outerjoin(ConnectorCredential, Connector.credential_id == ConnectorCredential.id)
                .order_by(Connector.name)
            ).all()
            return [_view(row, credential_name) for row, credential_name in rows]

    def count_using(self, credential_id: str) -> int:
        with self._db.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Connector)
                    .where(Connector.credential_id == credential_id)
                )
                or 0
            )

    def get(self, connector_id: str) -> ConnectorView:
        with self._db.session() as session:
            row = self._row(session, connector_id)
            credential = (
                session.get(ConnectorCredential, row.credential_id) if row.credential_id else None
            )
            return _view(row, credential.name if credential else None)

    def delete(self, connector_id: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            session.delete(self._row(session, connector_id))
            record(session, actor, "connector.delete", "connector", connector_id)

    @staticmethod
    def _row(session: Session, connector_id: str) -> Connector:
        return found(session.get(Connector, connector_id), f"no connector with id {connector_id!r}")
