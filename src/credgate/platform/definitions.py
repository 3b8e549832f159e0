"""Definitions the platform APIs act on, managed by administrators.

Five kinds, each with the fields its API documents:

- ``workflow``: id, name, description, status, triggerMethods, dependency, versions; it can be
  executed through the API when its trigger methods include ``API``.
- ``remote_action``: id, name, description, origin, builtInContentVersion, purpose, targeting
  (``apiEnabled`` decides API triggering), scriptInfo with inputs and outputs.
- ``campaign``: id (the ``campaignNqlId``), name, description, status, apiEnabled, parameters.
- ``query``: a saved NQL query, id ``#name``, and its selection (object, filters with
  ``$parameters``, columns, sort, limit); apiEnabled.
- ``enrichment_field``: a custom field ``<object>/<object>/#name`` the Enrichment API may write;
  apiEnabled.

Every kind is stored as one row of ``platform_definitions`` whose ``data`` holds the checked
fields in their wire (camelCase) spelling, so the APIs answer with what was stored.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credgate.core.audit.services import Actor, record
from credgate.core.changes import publish
from credgate.core.db import Database, utcnow
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.platform.models import PlatformDefinition
from credgate.platform.names import KINDS, PATHS, Kind
from credgate.platform.nql.engine import (
    QueryDefinition,
    QueryDefinitionError,
    validate_query_definition,
)
from credgate.platform.schemas._common import Uuid, nested_deeper_than, problems_from
from credgate.platform.schemas.enrichment import field_name_is_valid
from credgate.platform.schemas.remote_actions import RemoteAction, ScriptInfo, Targeting, wire_text
from credgate.platform.schemas.workflows import Workflow

__all__ = [
    "CHANGE_KIND",
    "KINDS",
    "PATHS",
    "DefinitionService",
    "Kind",
    "StoredDefinition",
    "to_query",
    "to_remote_action",
    "to_workflow",
]


MAX_DEPTH: Final = 32
"""Deepest nesting of a definition's JSON. The deepest field (a remote action's script inputs)
needs 4; past a few hundred, validation and serialisation fail on the recursion instead."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\s/?]+$")]
Text = Annotated[str, StringConstraints(max_length=4000)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]


TriggerMethod = Literal["API", "MANUAL", "MANUAL_MULTIPLE", "SCHEDULER"]


def _api_only() -> list[TriggerMethod]:
    return ["API"]


class _In(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class _NamedIn(_In):
    """What a workflow, a remote action and a campaign are all known by."""

    id: Key
    uuid: Uuid | None = None
    name: Name
    description: Text = ""


class WorkflowIn(_NamedIn):
    status: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"
    trigger_methods: list[TriggerMethod] = Field(default_factory=_api_only, max_length=4)
    dependency: Literal["USER", "DEVICE", "USER_AND_DEVICE", "NONE"] = "NONE"
    versions: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class TargetingIn(_In):
    api_enabled: bool = False
    manual_enabled: bool = False
    workflow_enabled: bool = False
    manual_allow_multiple_devices: bool = False


# The document types these as strings; a boolean or null from an older definition is accepted.
DocumentedText = Annotated[str, BeforeValidator(wire_text), StringConstraints(max_length=100)]


class ScriptInfoIn(_In):
    execution_service_delegate: DocumentedText = ""
    run_as: Label = "LOCAL_SYSTEM"
    timeout_seconds: int = Field(120, ge=1, le=86400)
    has_script_windows: bool = False
    has_script_mac_os: bool = False
    inputs: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    outputs: list[dict[str, Any]] = Field(default_factory=list, max_length=200)


class RemoteActionIn(_NamedIn):
    origin: Label = "CUSTOM"
    built_in_content_version: DocumentedText = ""
    purpose: list[Literal["DATA_COLLECTION", "REMEDIATION"]] = Field(
        default_factory=list, max_length=2
    )
    targeting: TargetingIn = Field(default_factory=TargetingIn)
    script_info: ScriptInfoIn = Field(default_factory=ScriptInfoIn)


class CampaignIn(_NamedIn):
    status: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"
    api_enabled: bool = True
    parameters: list[Label] = Field(default_factory=list, max_length=30)


class QueryIn(_In):
    id: Annotated[str, Field(pattern=r"^#[a-z0-9_]{2,255}$")]
    uuid: Uuid | None = None
    description: Text = ""
    api_enabled: bool = True
    object: str
    filters: list[dict[str, Any]] = Field(default_factory=list)
    columns: list[str]
    sort: list[dict[str, Any]] = Field(default_factory=list)
    limit: int | None = None


class EnrichmentFieldIn(_In):
    id: Annotated[str, StringConstraints(min_length=5, max_length=255)]
    uuid: Uuid | None = None
    description: Text = ""
    type: Literal["string", "number", "boolean"] = "string"
    api_enabled: bool = True


_MODELS: Final[Mapping[Kind, type[_In]]] = {
    "workflow": WorkflowIn,
    "remote_action": RemoteActionIn,
    "campaign": CampaignIn,
    "query": QueryIn,
    "enrichment_field": EnrichmentFieldIn,
}


def _api_enabled(kind: Kind, data: Mapping[str, Any]) -> bool:
    if kind == "workflow":
        return "API" in data["triggerMethods"] and data["status"] == "ACTIVE"
    if kind == "remote_action":
        return bool(data["targeting"]["apiEnabled"])
    if kind == "campaign":
        return bool(data["apiEnabled"]) and data["status"] == "ACTIVE"
    return bool(data["apiEnabled"])


def _check(kind: Kind, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``data`` as a ``kind`` definition; return it in wire spelling."""
    if nested_deeper_than(data, MAX_DEPTH):
        raise InvalidInputError([FieldError("body", f"is nested deeper than {MAX_DEPTH} levels")])
    model = _MODELS[kind]
    try:
        parsed = model.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError(
            [FieldError(p.field, p.message) for p in problems_from(exc)]
        ) from None
    out = parsed.model_dump(by_alias=True, mode="json")
    if kind == "query":
        selection = {k: out[k] for k in ("id", "object", "filters", "columns", "sort", "limit")}
        if selection["limit"] is None:
            del selection["limit"]
        try:
            query = validate_query_definition(selection)
        except QueryDefinitionError as exc:
            raise InvalidInputError(
                [FieldError(p.field, p.message) for p in exc.problems]
            ) from None
        out["parameters"] = sorted(query.parameter_names)
    if kind == "enrichment_field" and not (field_name_is_valid(out["id"]) and "/#" in out["id"]):
        raise InvalidInputError(
            [FieldError("id", "must be a custom field name: <object>/<object>/#<name>")]
        )
    return out


@dataclass(frozen=True, slots=True)
class StoredDefinition:
    kind: Kind
    key: str
    uuid: str
    api_enabled: bool
    data: Mapping[str, Any]
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        when = self.updated_at.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return {**self.data, "uuid": self.uuid, "kind": self.kind, "lastUpdateTime": when}


def _not_found(kind: Kind, key: str) -> NotFoundError:
    return NotFoundError(f"no {kind.replace('_', ' ')} with id {key!r}")


def _existing(session: Session, kind: Kind, key: str) -> PlatformDefinition:
    row = session.scalar(
        select(PlatformDefinition).where(
            PlatformDefinition.kind == kind, PlatformDefinition.key == key
        )
    )
    if row is None:
        raise _not_found(kind, key)
    return row


def _stored(row: PlatformDefinition) -> StoredDefinition:
    return StoredDefinition(
        kind=row.kind,  # type: ignore[arg-type]
        key=row.key,
        uuid=row.uuid,
        api_enabled=row.api_enabled,
        data=row.data,
        updated_at=row.updated_at,
    )


def to_workflow(d: StoredDefinition) -> Workflow:
    data = d.data
    return Workflow(
        id=d.key,
        uuid=d.uuid,
        name=data["name"],
        last_update_time=d.updated_at,
        description=data["description"],
        status=data["status"],
        trigger_methods=tuple(data["triggerMethods"]),
        versions=tuple(data["versions"]),
        dependency=data["dependency"],
    )


def to_remote_action(d: StoredDefinition) -> RemoteAction:
    data, t, s = d.data, d.data["targeting"], d.data["scriptInfo"]
    return RemoteAction(
        id=d.key,
        uuid=d.uuid,
        name=data["name"],
        description=data["description"],
        origin=data["origin"],
        built_in_content_version=wire_text(data["builtInContentVersion"]),
        purpose=tuple(data["purpose"]),
        targeting=Targeting(
            api_enabled=t["apiEnabled"],
            manual_enabled=t["manualEnabled"],
            workflow_enabled=t["workflowEnabled"],
            manual_allow_multiple_devices=t["manualAllowMultipleDevices"],
        ),
        script_info=ScriptInfo(
            execution_service_delegate=wire_text(s["executionServiceDelegate"]),
            run_as=s["runAs"],
            timeout_seconds=s["timeoutSeconds"],
            has_script_windows=s["hasScriptWindows"],
            has_script_mac_os=s["hasScriptMacOs"],
            inputs=tuple(s["inputs"]),
            outputs=tuple(s["outputs"]),
        ),
    )


def to_query(d: StoredDefinition) -> QueryDefinition:
    selection = {k: d.data[k] for k in ("id", "object", "filters", "columns", "sort")}
    if d.data.get("limit") is not None:
        selection["limit"] = d.data["limit"]
    return validate_query_definition(selection)


_Listed = list[StoredDefinition]

CHANGE_KIND: Final = "platform_definition"
"""Change-log kind: a definition of the kind named by the key changed."""


class DefinitionService:
    """Create, change, list and remove definitions; every change is audited.

    Reads are answered from a per-node cache of each kind, which every change drops: at once on
    the node that made it, and on the others at their next poll of the change log.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, dict[str, StoredDefinition]] = {}
        self._epoch = 0

    def on_change(self, kind: str, key: str) -> None:
        if kind == CHANGE_KIND:
            self._epoch += 1
            self._cache.pop(key, None)

    def _all(self, kind: Kind) -> dict[str, StoredDefinition]:
        cached = self._cache.get(kind)
        if cached is not None:
            return cached
        epoch = self._epoch
        with self._db.session() as session:
            rows = session.scalars(
                select(PlatformDefinition)
                .where(PlatformDefinition.kind == kind)
                .order_by(PlatformDefinition.key)
            ).all()
            loaded = {r.key: _stored(r) for r in rows}
        if epoch == self._epoch:  # a change that raced the load is not cached over
            self._cache[kind] = loaded
        return loaded

    def list(self, kind: Kind) -> list[StoredDefinition]:
        return list(self._all(kind).values())

    def cached(self, kind: Kind) -> _Listed | None:
        """The cached definitions of ``kind`` without touching storage, or ``None``.

        Lets an event loop answer without a worker thread when the cache is warm.
        """
        found = self._cache.get(kind)
        return None if found is None else list(found.values())

    def snapshot(self, kind: Kind) -> Mapping[str, StoredDefinition] | None:
        """The cached definitions of ``kind`` by key, without touching storage, or ``None``.

        One object for as long as nothing of the kind changes, and a new one after a change:
        what is derived from a snapshot may be kept as long as it is the current one.
        """
        return self._cache.get(kind)

    def find(self, kind: Kind, key: str) -> StoredDefinition | None:
        return self._all(kind).get(key)

    def get(self, kind: Kind, key: str) -> StoredDefinition:
        found = self.find(kind, key)
        if found is None:
            raise _not_found(kind, key)
        return found

    def create(self, kind: Kind, data: Mapping[str, Any], *, actor: Actor) -> StoredDefinition:
        checked = _check(kind, data)
        key = checked["id"]
        given_uuid = checked.pop("uuid", None)
        row = PlatformDefinition(
            kind=kind,
            key=key,
            uuid=given_uuid or str(uuid_module.uuid4()),
            api_enabled=_api_enabled(kind, checked),
            data=checked,
        )
        try:
            with self._db.session() as session:
                if session.scalar(
                    select(PlatformDefinition.id).where(
                        PlatformDefinition.kind == kind, PlatformDefinition.key == key
                    )
                ):
                    raise ConflictError("id", f"a {kind.replace('_', ' ')} with id {key!r} exists")
                session.add(row)
                session.flush()
                record(session, actor, f"{kind}.create", kind, key, sorted(checked))
                publish(session, CHANGE_KIND, kind)
                stored = _stored(row)
        except IntegrityError:
            raise ConflictError("uuid", "a definition with that uuid exists") from None
        self.on_change(CHANGE_KIND, kind)
        return stored

    def update(
        self, kind: Kind, key: str, changes: Mapping[str, Any], *, actor: Actor
    ) -> StoredDefinition:
        if "id" in changes and changes["id"] != key:
            raise InvalidInputError([FieldError("id", "cannot be changed")])
        with self._db.session() as session:
            row = _existing(session, kind, key)
            merged = {**row.data, **changes, "uuid": row.uuid}
            checked = _check(kind, merged)
            checked.pop("uuid", None)
            row.data = checked
            row.api_enabled = _api_enabled(kind, checked)
            row.updated_at = utcnow()
            session.flush()
            record(session, actor, f"{kind}.update", kind, key, sorted(changes))
            publish(session, CHANGE_KIND, kind)
            stored = _stored(row)
        self.on_change(CHANGE_KIND, kind)
        return stored

    def delete(self, kind: Kind, key: str, *, actor: Actor) -> None:
        with self._db.session() as session:
            row = _existing(session, kind, key)
            session.delete(row)
            record(session, actor, f"{kind}.delete", kind, key, [])
            publish(session, CHANGE_KIND, kind)
        self.on_change(CHANGE_KIND, kind)
