"""What the platform APIs do when no upstream is configured: keep requests, keep the inventory.

- **Requests are records.** Every request a family accepts is stored in ``platform_requests``
  with its kind, the client that sent it, its payload and a state; administrators list them.
- **Inventory.** Devices, users, binaries and packages, created and updated by enrichment,
  removed by device deletions; saved NQL queries select from them.
- **Exports.** An NQL export writes its results file under ``<data_dir>/exports`` and is served
  through a signed link valid for 15 minutes (:meth:`PlatformService.results_link`).
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from sqlalchemy import and_, delete, func, or_, select, update

from credgate.core.db import Database, utcnow
from credgate.core.views import view_of, wire_dict
from credgate.platform.definitions import DefinitionService, to_query
from credgate.platform.interfaces import RequestSink
from credgate.platform.models import InventoryObject, PlatformRequest
from credgate.platform.names import KIND_NAMES
from credgate.platform.nql.engine import (
    SINGULAR,
    ObjectName,
    ParameterError,
    QueryDefinition,
    Result,
    bind,
)
from credgate.platform.nql.export import (
    EXPORT_ROW_LIMIT,
    EXPORTS_PER_DAY,
    RESULTS_FILE_TTL,
    RESULTS_URL_TTL,
    SUFFIXES,
    write_export,
)
from credgate.platform.nql.index import object_row
from credgate.platform.nql.render import csv_chunks
from credgate.platform.nql.sql import RowStream, compile_query, open_rows
from credgate.platform.nql.worker import ExportWorker
from credgate.platform.schemas.enrichment import (
    Enrichment,
    EnrichmentError,
    EnrichmentRequest,
    ErrorDetail,
)
from credgate.platform.schemas.nql import Compression
from credgate.security.secrets import SecretHasher

__all__ = [
    "EXPORT_LEASE",
    "KIND_NAMES",
    "ExportLimitError",
    "PlatformService",
    "RequestView",
    "field_key",
]


_ID_COLUMNS: Final = {"name": "name", "uid": "uid", "sid": "sid", "upn": "upn"}
_CHUNK: Final = 500
EXPORT_LEASE: Final = timedelta(seconds=60)
"""How long a claimed export is its worker's; the worker renews it while the export runs."""


def field_key(name: str) -> str:
    """The NQL field an enrichment field writes: ``device/device/virtualization/type`` ->
    ``virtualization.type``; ``user/user/#team`` -> ``#team``."""
    rest = name.split("/", 2)[2]
    return rest.replace("/", ".")


@dataclass(frozen=True, slots=True)
class RequestView:
    id: str
    kind: str
    client_id: str
    target: str
    state: str
    payload: Mapping[str, Any]
    result: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return wire_dict(self, camel=True)


@dataclass(slots=True, eq=False)
class PlatformService:
    """Requests, inventory and exports. Blocking: call it off the event loop."""

    db: Database = field(repr=False)
    definitions: DefinitionService
    hasher: SecretHasher = field(repr=False)
    exports_dir: Path
    _: KW_ONLY
    exports_per_day: int = EXPORTS_PER_DAY
    #: Called with the session and each stored request, in its transaction (webhook outbox).
    on_record: RequestSink | None = field(default=None, init=False)
    #: Runs queued exports off the event loop; the app runs its periodic loop.
    exports: ExportWorker = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.exports = ExportWorker(self)

    # Requests ----------------------------------------------------------------------------------

    def record(
        self,
        kind: str,
        client_id: str,
        *,
        state: str,
        payload: Mapping[str, Any],
        result: Mapping[str, Any] | None = None,
        target: str = "",
        request_id: str | None = None,
    ) -> str:
        rid = request_id or str(uuid.uuid4())
        with self.db.session() as session:
            row = PlatformRequest(
                id=rid,
                kind=kind,
                client_id=client_id,
                target=target[:300],
                state=state,
                payload=dict(payload),
                result=dict(result) if result is not None else None,
            )
            session.add(row)
            if self.on_record is not None:
                self.on_record(session, row)
        return rid

    def update_request(self, request_id: str, *, state: str, result: Mapping[str, Any]) -> None:
        with self.db.session() as session:
            row = session.get(PlatformRequest, request_id)
            if row is not None:
                row.state = state
                row.result = dict(result)
                row.updated_at = utcnow()

    def get_request(self, request_id: str) -> RequestView | None:
        with self.db.session() as session:
            row = session.get(PlatformRequest, request_id)
            return view_of(RequestView, row) if row is not None else None

    def list_requests(self, kind: str | None = None, *, limit: int = 100) -> list[RequestView]:
        query = select(PlatformRequest).order_by(PlatformRequest.created_at.desc()).limit(limit)
        if kind:
            query = query.where(PlatformRequest.kind == kind)
        with self.db.session() as session:
            return [view_of(RequestView, r) for r in session.scalars(query).all()]

    # Inventory ---------------------------------------------------------------------------------

    def rows(self, object_name: ObjectName) -> list[dict[str, Any]]:
        """Every object of one type as NQL rows: identification columns, then its fields.

        For inspection and tests; queries never load the inventory (:meth:`stream_query`)."""
        singular = SINGULAR[object_name]
        with self.db.session() as session:
            found = session.scalars(
                select(InventoryObject)
                .where(InventoryObject.object == singular)
                .order_by(InventoryObject.id)
            ).all()
            return [
                object_row(o.uid, {"name": o.name, "sid": o.sid, "upn": o.upn}, o.fields)
                for o in found
            ]

    def _custom_fields(self) -> dict[str, str]:
        """Defined custom enrichment fields enabled for the API, with their value type."""
        return {
            d.key: str(d.data.get("type", "string"))
            for d in self.definitions.list("enrichment_field")
            if d.api_enabled
        }

    def apply_enrichment(self, request: EnrichmentRequest) -> EnrichmentRequest:
        """Write every valid enrichment; return the request with custom fields that are not
        defined (or not of their declared type) moved to its errors."""
        custom = self._custom_fields()
        valid: list[Enrichment] = []
        errors = list(request.errors)
        for item in request.enrichments:
            problems = _custom_field_problems(item, custom)
            if problems:
                ident = ({"name": item.identification.name, "value": item.identification.value},)
                errors.append(EnrichmentError(item.index, ident, tuple(problems)))
            else:
                valid.append(item)
        if valid:
            self._write(valid)
        errors.sort(key=lambda e: e.index)
        return EnrichmentRequest(request.domain, tuple(valid), tuple(errors))

    def _write(self, items: Sequence[Enrichment]) -> None:
        with self.db.session() as session:
            groups: dict[tuple[str, str], list[Enrichment]] = {}
            for item in items:
                obj, _, column = item.identification.name.split("/")
                groups.setdefault((obj, _ID_COLUMNS[column]), []).append(item)
            for (obj, column), group in groups.items():
                attribute = getattr(InventoryObject, column)
                known: dict[str, InventoryObject] = {}
                values = sorted({i.identification.value for i in group})
                for start in range(0, len(values), _CHUNK):
                    chunk = values[start : start + _CHUNK]
                    for found in session.scalars(
                        select(InventoryObject).where(
                            InventoryObject.object == obj, attribute.in_(chunk)
                        )
                    ):
                        known.setdefault(getattr(found, column), found)
                for item in group:
                    value = item.identification.value
                    target = known.get(value)
                    if target is None:
                        target = InventoryObject(object=obj, fields={})
                        target.uid = value if column == "uid" else str(uuid.uuid4())
                        if column != "uid":
                            setattr(target, column, value)
                        session.add(target)
                        known[value] = target
                    fields = dict(target.fields or {})
                    for f in item.fields:
                        key = field_key(f.name)
                        if f.clears:
                            fields.pop(key, None)
                        else:
                            fields[key] = f.value
                    target.fields = fields
                    target.updated_at = utcnow()

    def delete_devices(self, uids: Iterable[str]) -> int:
        wanted = sorted(set(uids))
        removed = 0
        with self.db.session() as session:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                result = session.execute(
                    delete(InventoryObject).where(
                        InventoryObject.object == "device", InventoryObject.uid.in_(chunk)
                    )
                )
                removed += int(getattr(result, "rowcount", 0) or 0)
        return removed

    # NQL ---------------------------------------------------------------------------------------

    @contextmanager
    def stream_query(
        self,
        query: QueryDefinition,
        parameters: Mapping[str, str],
        *,
        max_rows: int | None,
        restrict: Mapping[str, frozenset[str]] | None = None,
    ) -> Iterator[RowStream]:
        """Run a saved query in the database; its rows are read as the stream is iterated,
        within this context. A parameter or literal that does not fit raises on entry."""
        compiled = compile_query(query, parameters, max_rows=max_rows, restrict=restrict)
        with self.db.session() as session:
            rows = open_rows(session, compiled, max_rows=max_rows)
            try:
                yield rows
            finally:
                rows.close()

    def run_query(
        self,
        query: QueryDefinition,
        parameters: Mapping[str, str],
        *,
        max_rows: int,
        restrict: Mapping[str, frozenset[str]] | None = None,
    ) -> Result:
        """The whole answer at once (at most ``max_rows`` rows)."""
        with self.stream_query(query, parameters, max_rows=max_rows, restrict=restrict) as rows:
            out = list(rows)
            return Result(rows.query_id, rows.executed_query, rows.headers, out, rows.truncated)

    def csv_stream(
        self, query: QueryDefinition, parameters: Mapping[str, str], *, max_rows: int
    ) -> Iterator[str]:
        """The query's answer as CSV text, read from the database as it is sent.

        The query runs (and a parameter that does not fit raises) before this returns; the
        rest is read as the iterator is consumed, in batches, on whichever thread consumes it.
        """
        chunks = self._csv_chunks(query, parameters, max_rows)
        first = next(chunks)
        return itertools.chain((first,), chunks)

    def _csv_chunks(
        self, query: QueryDefinition, parameters: Mapping[str, str], max_rows: int
    ) -> Iterator[str]:
        with self.stream_query(query, parameters, max_rows=max_rows) as rows:
            yield ""  # the query has run: errors are raised by now
            yield from csv_chunks(rows)

    def submit_export(
        self,
        export_id: str,
        client_id: str,
        query: QueryDefinition,
        payload: Mapping[str, Any],
        *,
        now: datetime | None = None,
    ) -> None:
        """Queue an export (``SUBMITTED``) for the worker.

        Raises :class:`ExportLimitError` when the client has started its exports of the day,
        and :class:`ParameterError` (the export recorded as ``ERROR``) when the query needs a
        parameter that ``payload`` lacks.
        """
        moment = now or utcnow()
        midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.session() as session:
            started = session.scalar(
                select(func.count())
                .select_from(PlatformRequest)
                .where(
                    PlatformRequest.kind == "nql_export",
                    PlatformRequest.client_id == client_id,
                    PlatformRequest.created_at >= midnight,
                )
            )
        if (started or 0) >= self.exports_per_day:
            retry = midnight + timedelta(days=1) - moment
            raise ExportLimitError(self.exports_per_day, max(1, math.ceil(retry.total_seconds())))
        self.record(
            "nql_export",
            client_id,
            state="SUBMITTED",
            payload=payload,
            target=query.id,
            request_id=export_id,
        )
        try:
            bind(query, _parameters(payload))
        except ParameterError as exc:
            self.update_request(export_id, state="ERROR", result={"errorDescription": str(exc)})
            raise

    def claim_export(self) -> str | None:
        """Claim the oldest queued export, or one whose worker stopped renewing its lease."""
        stale = utcnow() - EXPORT_LEASE
        pending = (
            select(PlatformRequest.id, PlatformRequest.state, PlatformRequest.updated_at)
            .where(
                PlatformRequest.kind == "nql_export",
                or_(
                    PlatformRequest.state == "SUBMITTED",
                    and_(
                        PlatformRequest.state == "IN_PROGRESS",
                        PlatformRequest.updated_at < stale,
                    ),
                ),
            )
            .order_by(PlatformRequest.created_at)
            .limit(8)
        )
        with self.db.session() as session:
            for export_id, state, updated_at in session.execute(pending).all():
                claimed = session.execute(
                    update(PlatformRequest)
                    .where(
                        PlatformRequest.id == export_id,
                        PlatformRequest.state == state,
                        PlatformRequest.updated_at == updated_at,
                    )
                    .values(state="IN_PROGRESS", updated_at=utcnow())
                )
                if getattr(claimed, "rowcount", 0) == 1:
                    return str(export_id)
        return None

    def _renew(self, export_id: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(PlatformRequest)
                .where(PlatformRequest.id == export_id, PlatformRequest.state == "IN_PROGRESS")
                .values(updated_at=utcnow())
            )

    def run_export(self, export_id: str) -> None:
        """Run a claimed export: stream its rows into the results file, then record the end.

        A parameter or literal that does not fit, a query that is gone, a file that cannot be
        written: the export ends in ``ERROR`` with a description for the caller.
        """
        view = self.get_request(export_id)
        if view is None or view.kind != "nql_export" or view.state != "IN_PROGRESS":
            return
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        compression: Compression = view.payload.get("compression", "NONE")
        try:
            found = self.definitions.find("query", str(view.payload.get("queryId", "")))
            if found is None or not found.api_enabled:
                raise ValueError("the saved query no longer exists or is not enabled for the API")
            query = to_query(found)
            with self.stream_query(
                query, _parameters(view.payload), max_rows=EXPORT_ROW_LIMIT
            ) as rows:
                renewing = _Renewing(rows, lambda: self._renew(export_id))
                written = write_export(renewing, self.exports_dir, export_id, compression)
        except (ValueError, OSError) as exc:
            self.update_request(
                export_id, state="ERROR", result={"errorDescription": _export_error(exc)}
            )
            return
        self.update_request(
            export_id,
            state="COMPLETED",
            result={
                "file": written.path.name,
                "size": written.size,
                "compression": compression,
                "rows": renewing.count,
                "truncated": rows.truncated,
            },
        )

    def expire_exports(self, *, now: datetime | None = None) -> int:
        """Delete the results files older than :data:`RESULTS_FILE_TTL`; the exports then
        report ``EXPIRED``. Returns how many."""
        cutoff = (now or utcnow()) - RESULTS_FILE_TTL
        with self.db.session() as session:
            done = session.scalars(
                select(PlatformRequest).where(
                    PlatformRequest.kind == "nql_export",
                    PlatformRequest.state == "COMPLETED",
                    PlatformRequest.updated_at < cutoff,
                )
            ).all()
            for row in done:
                name = str((row.result or {}).get("file", ""))
                if name in {row.id + suffix for suffix in SUFFIXES.values()}:
                    (self.exports_dir / name).unlink(missing_ok=True)
                row.state = "EXPIRED"
                row.result = {**(row.result or {}), "file": None}
                row.updated_at = utcnow()
            return len(done)

    def _signature(self, export_id: str, expires: int) -> str:
        return self.hasher.hash(f"nql-export|{export_id}|{expires}")

    def results_link(self, base_url: str, export_id: str, *, now: float | None = None) -> str:
        """A download link for an export's file, valid for 15 minutes from now."""
        expires = int((time.time() if now is None else now) + RESULTS_URL_TTL.total_seconds())
        query = urlencode({"expires": expires, "signature": self._signature(export_id, expires)})
        return f"{base_url}/exports/{export_id}?{query}"

    def check_link(self, export_id: str, expires: str, signature: str) -> bool:
        """Whether a download link is authentic and unexpired (constant-time comparison)."""
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return self.hasher.verify(f"nql-export|{export_id}|{expires}", signature)

    def export_file(self, export_id: str) -> Path | None:
        view = self.get_request(export_id)
        if (
            view is None
            or view.kind != "nql_export"
            or view.state != "COMPLETED"
            or not view.result
        ):
            return None
        name = str(view.result.get("file", ""))
        if name not in {export_id + suffix for suffix in SUFFIXES.values()}:
            return None
        path = self.exports_dir / name
        return path if path.is_file() else None


class ExportLimitError(Exception):
    """A client has started as many exports as it may today."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"the daily limit of {limit} exports is reached; retry after midnight UTC")


def _parameters(payload: Mapping[str, Any]) -> dict[str, str]:
    raw = payload.get("parameters") or {}
    return {str(k): str(v) for k, v in raw.items()}


class _Renewing:
    """Rows passed through while renewing the export's lease every few seconds."""

    def __init__(self, rows: RowStream, renew: Callable[[], None]) -> None:
        self.headers = rows.headers
        self._rows = rows
        self._renew = renew
        self.count = 0

    @property
    def rows(self) -> Iterator[list[object]]:
        last = time.monotonic()
        for row in self._rows:
            self.count += 1
            if (
                self.count % 1000 == 0
                and time.monotonic() - last > EXPORT_LEASE.total_seconds() / 6
            ):
                self._renew()
                last = time.monotonic()
            yield row


def _export_error(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return "the results file could not be written"
    return str(exc)


def _custom_field_problems(item: Enrichment, custom: Mapping[str, str]) -> list[ErrorDetail]:
    problems = []
    for n, f in enumerate(item.fields):
        if "/#" not in f.name:
            continue
        where = f"enrichments[{item.index}].fields[{n}]"
        declared = custom.get(f.name)
        if declared is None:
            problems.append(
                ErrorDetail(
                    f"{where}.name: {f.name} is not a defined custom field", "UNKNOWN_FIELD"
                )
            )
        elif not f.clears and not _fits(f.value, declared):
            problems.append(
                ErrorDetail(f"{where}.value: {f.name} holds a {declared}", "INVALID_FIELD_VALUE")
            )
    return problems


def _fits(value: object, declared: str) -> bool:
    if declared == "boolean":
        return isinstance(value, bool)
    if declared == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)
