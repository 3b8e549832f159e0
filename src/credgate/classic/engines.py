"""The engines registry: administrators add and remove engines; the Engines API lists them.

The wire shape is the documented one::

    [{"name", "databaseUID", "machineID", "description",
      "status": "CONNECTED" | "DISCONNECTED" | "CONNECTING",
      "address", "port", "timezone", "version"}]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from credgate.classic.models import ENGINE_STATUSES, Engine
from credgate.core.audit.services import Actor, record
from credgate.core.db import Database
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, found
from credgate.core.views import view_of

__all__ = ["EngineService", "EngineView"]


@dataclass(frozen=True, slots=True)
class EngineView:
    name: str
    database_uid: str
    machine_id: str
    description: str
    status: str
    address: str
    port: int
    timezone: str
    version: str

    def as_wire(self) -> dict[str, Any]:
        """The documented Engines API item."""
        return {
            "name": self.name,
            "databaseUID": self.database_uid,
            "machineID": self.machine_id,
            "description": self.description,
            "status": self.status,
            "address": self.address,
            "port": self.port,
            "timezone": self.timezone,
            "version": self.version,
        }


_LIMITS = {
    "name": 100,
    "database_uid": 100,
    "machine_id": 100,
    "description": 2000,
    "address": 255,
    "timezone": 64,
    "version": 50,
}


class EngineService:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self,
        name: str,
        *,
        actor: Actor,
        database_uid: str = "",
        machine_id: str = "",
        description: str = "",
        status: str = "CONNECTED",
        address: str = "",
        port: int = 999,
        timezone: str = "UTC",
        version: str = "",
    ) -> EngineView:
        values = {
            "name": name.strip(),
            "database_uid": database_uid,
            "machine_id": machine_id,
            "description": description,
            "address": address,
            "timezone": timezone,
            "version": version,
        }
        errors = [
            FieldError(field, f"must be at most {limit} characters")
            for field, limit in _LIMITS.items()
            if len(values[field]) > limit
        ]
        if not values["name"]:
            errors.append(FieldError("name", "must not be empty"))
        if status not in ENGINE_STATUSES:
            errors.append(
                FieldError("status", f"{status!r} is not one of: {', '.join(ENGINE_STATUSES)}")
            )
        if not 1 <= port <= 65535:
            errors.append(FieldError("port", "must be between 1 and 65535"))
        if errors:
            raise InvalidInputError(errors)
        with self._db.session() as session:
            if session.scalar(select(Engine.id).where(Engine.name == values["name"])):
                raise ConflictError("name", f"an engine named {values['name']!r} already exists")
            row = Engine(status=status, port=port, **values)
            session.add(row)
            session.flush()
            changed = [k for k, v in values.items() if v] + ["status", "port"]
            record(session, actor, "engine.create", "engine", row.name, changed)
            return view_of(EngineView, row)

    def list(self) -> list[EngineView]:
        with self._db.session() as session:
            return [
                view_of(EngineView, r)
                for r in session.scalars(select(Engine).order_by(Engine.name))
            ]

    def names(self) -> set[str]:
        with self._db.session() as session:
            return set(session.scalars(select(Engine.name)))

    def delete(self, name: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            row = found(
                session.scalar(select(Engine).where(Engine.name == name)),
                f"no engine named {name!r}",
            )
            session.delete(row)
            record(session, actor, "engine.delete", "engine", name)
