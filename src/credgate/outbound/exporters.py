"""Data exporters: a saved NQL query's rows, as CSV or JSON lines, to SFTP or HTTPS on a schedule.

SFTP files are written atomically (a temporary name, then a rename: :meth:`SftpClient.upload`),
to a server whose host key is pinned by the credential. HTTPS bodies are JSON lines, a JSON
array, or an object holding one array.
"""

from __future__ import annotations

import builtins
import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final, Literal

import anyio.to_thread
from pydantic import Field, ValidationError
from sqlalchemy import delete, select

from credgate.connectors.interfaces import CredentialClients
from credgate.core.audit.services import Actor, record
from credgate.core.db import Database, utcnow
from credgate.core.errors import (
    ConflictError,
    FieldError,
    InvalidInputError,
    found,
    plain_errors,
)
from credgate.core.paging import Page, PageRequest
from credgate.core.strict import StrictModel
from credgate.outbound.models import Exporter, ExporterRun, page_by_name

__all__ = [
    "PERIODS",
    "ExportTarget",
    "ExporterIn",
    "ExporterService",
    "encode_rows",
    "run_export",
]

PERIODS: Final = {
    "hourly": dt.timedelta(hours=1),
    "daily": dt.timedelta(days=1),
    "weekly": dt.timedelta(weeks=1),
}
_PATTERN_FIELDS = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._{}:%\-]+$")


class ExporterIn(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    query_id: str = Field(min_length=1, description="A saved NQL query's id, e.g. #devices.")
    parameters: dict[str, str] = Field(default_factory=dict)
    format: Literal["csv", "jsonl"] = "csv"
    credential: str = Field(min_length=1, description="Connector credential id or name.")
    directory: str = Field("/", description="SFTP: the remote directory.")
    file_pattern: str = Field(
        "{name}-{timestamp}.{ext}",
        description="SFTP: the file name; {name}, {timestamp} (UTC, YYYYmmddTHHMMSSZ), {ext}.",
    )
    path: str = Field("/", description="HTTPS: the path appended to the credential's URL.")
    body: Literal["json_lines", "json_array", "json_object"] = "json_lines"
    array_key: str = Field("items", description="HTTPS json_object: the key holding the array.")
    schedule: Literal["hourly", "daily", "weekly"] = "daily"
    enabled: bool = True


def _view(row: Exporter) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "query_id": row.query_id,
        "parameters": dict(row.parameters),
        "format": row.format,
        "credential_id": row.credential_id,
        "destination": dict(row.destination),
        "schedule": row.schedule,
        "enabled": row.enabled,
        "next_run_at": row.next_run_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _run_view(row: ExporterRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "exporter_id": row.exporter_id,
        "trigger": row.trigger,
        "state": row.state,
        "rows": row.rows,
        "target": row.target,
        "error": row.error,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def _sftp_problems(parsed: ExporterIn) -> list[FieldError]:
    problems: list[FieldError] = []
    if "/" in parsed.file_pattern or not _SAFE_NAME.match(parsed.file_pattern):
        problems.append(FieldError("file_pattern", "letters, digits, . _ - and {fields} only"))
    unknown = set(_PATTERN_FIELDS.findall(parsed.file_pattern)) - {"name", "timestamp", "ext"}
    if unknown:
        problems.append(
            FieldError("file_pattern", f"unknown field(s): {', '.join(sorted(unknown))}")
        )
    if not parsed.directory.startswith("/") or ".." in parsed.directory.split("/"):
        problems.append(FieldError("directory", "an absolute path without '..'"))
    return problems


def encode_rows(headers: Sequence[str], rows: Sequence[Sequence[object]], fmt: str) -> bytes:
    """CSV (RFC 4180, a header line, CRLF) or JSON lines (one object per row)."""

    def cell(v: object) -> object:
        return json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v)

    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(headers)
        writer.writerows([[cell(v) for v in r] for r in rows])
        return out.getvalue().encode()
    return "".join(
        json.dumps(dict(zip(headers, r, strict=False)), default=str) + "\n" for r in rows
    ).encode()


@dataclass(frozen=True, slots=True)
class ExportTarget:
    """What an exporter needs to know of a connector credential."""

    id: str
    protocol: str
    auth_type: str


# A consent-based credential holds a person's grant for interactive use; an unattended
# schedule must not ride on it, and the file transfer has no token to send at all.
_NO_EXPORT_AUTH = {"OAUTH2_AUTHORIZATION_CODE"}


@dataclass(frozen=True, slots=True, eq=False)
class ExporterService:
    """Exporter definitions, their claims and run history. Blocking."""

    db: Database = field(repr=False)
    _: KW_ONLY
    credential_target: Callable[[str], ExportTarget | None]
    query_parameters: Callable[[str], Sequence[str] | None]

    def _parse(self, data: object) -> tuple[ExporterIn, str, dict[str, str]]:
        """Every problem of the input at once, each naming its field."""
        problems: list[FieldError] = []
        raw = dict(data) if isinstance(data, Mapping) else {}
        try:
            parsed = ExporterIn.model_validate(data)
        except ValidationError as exc:
            problems = plain_errors(exc)
            parsed = None
        failed = {p.field.split(".")[0] for p in problems}
        credential = str(raw.get("credential") or "")
        target = self.credential_target(credential) if credential else None
        if credential and "credential" not in failed:
            if target is None:
                problems.append(
                    FieldError("credential", f"there is no connector credential {credential!r}")
                )
            elif target.auth_type in _NO_EXPORT_AUTH:
                problems.append(
                    FieldError(
                        "credential",
                        "an OAuth 2.0 authorization code credential cannot run unattended "
                        "exports; choose a client credentials, basic, bearer or SFTP credential",
                    )
                )
        query_id = str(raw.get("query_id") or "")
        if query_id and "query_id" not in failed:
            required = self.query_parameters(query_id)
            if required is None:
                problems.append(FieldError("query_id", f"there is no saved NQL query {query_id!r}"))
            elif "parameters" not in failed:
                given = raw.get("parameters") or {}
                missing = [n for n in required if not str(given.get(n, "")).strip()]
                if missing:
                    problems.append(
                        FieldError(
                            "parameters",
                            f"the query {query_id} needs a value for "
                            + ", ".join(f"${n}" for n in missing),
                        )
                    )
        destination: dict[str, str] = {}
        if parsed is not None:
            if target is not None and target.protocol == "SFTP":
                problems += _sftp_problems(parsed)
                destination = {"directory": parsed.directory, "file_pattern": parsed.file_pattern}
            else:
                if not parsed.path.startswith("/") or any(c in parsed.path for c in " \r\n"):
                    problems.append(FieldError("path", "must start with '/' and hold no spaces"))
                destination = {
                    "path": parsed.path,
                    "body": parsed.body,
                    "array_key": parsed.array_key,
                }
        if problems:
            raise InvalidInputError(problems)
        assert parsed is not None
        assert target is not None
        return parsed, target.id, destination

    @staticmethod
    def _refuse_taken(session: Any, name: str, own_id: str | None) -> None:
        taken = session.scalar(select(Exporter.id).where(Exporter.name == name))
        if taken is not None and taken != own_id:
            raise ConflictError("name", f"an exporter named {name!r} already exists")

    def check(self, data: object) -> None:
        """Raise :class:`InvalidInputError` with every problem of ``data``; store nothing."""
        self._parse(data)

    def create(self, data: object, *, actor: Actor) -> dict[str, Any]:
        parsed, credential_id, destination = self._parse(data)
        eid = str(uuid.uuid4())
        with self.db.session() as session:
            self._refuse_taken(session, parsed.name, None)
            row = Exporter(
                id=eid,
                name=parsed.name,
                query_id=parsed.query_id,
                parameters=parsed.parameters,
                format=parsed.format,
                credential_id=credential_id,
                destination=destination,
                schedule=parsed.schedule,
                enabled=parsed.enabled,
                next_run_at=utcnow() + PERIODS[parsed.schedule],
            )
            session.add(row)
            session.flush()
            record(
                session, actor, "exporter.create", "exporter", eid, sorted(parsed.model_fields_set)
            )
            return _view(row)

    def update(self, ref: str, data: object, *, actor: Actor) -> dict[str, Any]:
        """Replace an exporter's definition (the same fields as :meth:`create`); its run
        history stays. A new schedule counts its next run from now."""
        parsed, credential_id, destination = self._parse(data)
        with self.db.session() as session:
            row = self._get(session, ref)
            self._refuse_taken(session, parsed.name, row.id)
            if parsed.schedule != row.schedule:
                row.next_run_at = utcnow() + PERIODS[parsed.schedule]
            row.name = parsed.name
            row.query_id = parsed.query_id
            row.parameters = parsed.parameters
            row.format = parsed.format
            row.credential_id = credential_id
            row.destination = destination
            row.schedule = parsed.schedule
            row.enabled = parsed.enabled
            row.updated_at = utcnow()
            session.flush()
            record(
                session,
                actor,
                "exporter.update",
                "exporter",
                row.id,
                sorted(parsed.model_fields_set),
            )
            return _view(row)

    def delete(self, ref: str, *, actor: Actor) -> None:
        with self.db.session() as session:
            row = self._get(session, ref)
            # One statement for the run history (the database would cascade it too; deleting
            # rows one by one raced that cascade and warned about rows already gone).
            session.execute(delete(ExporterRun).where(ExporterRun.exporter_id == row.id))
            session.delete(row)
            record(session, actor, "exporter.delete", "exporter", row.id, [])

    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as session:
            return [_view(r) for r in session.scalars(select(Exporter).order_by(Exporter.name))]

    def page(self, request: PageRequest) -> Page[dict[str, Any]]:
        """One page of exporters, by name; ``q`` finds a part of the name or of the id."""
        with self.db.session() as session:
            return page_by_name(session, Exporter, request).map(_view)

    def get(self, ref: str) -> dict[str, Any]:
        with self.db.session() as session:
            return _view(self._get(session, ref))

    def runs(self, ref: str, *, limit: int = 50) -> builtins.list[dict[str, Any]]:
        with self.db.session() as session:
            row = self._get(session, ref)
            found = session.scalars(
                select(ExporterRun)
                .where(ExporterRun.exporter_id == row.id)
                .order_by(ExporterRun.id.desc())
                .limit(limit)
            )
            return [_run_view(r) for r in found]

    @staticmethod
    def _get(session: Any, ref: str) -> Exporter:
        row: Exporter | None = session.get(Exporter, ref) or session.scalar(
            select(Exporter).where(Exporter.name == ref)
        )
        return found(row, f"no exporter with id or name {ref!r}")

    def claim_due(self, worker: str, lease: float) -> builtins.list[str]:
        """Claim every due, enabled exporter and move its next run one period on."""
        now = utcnow()
        token = f"{worker}:{uuid.uuid4().hex[:12]}"
        due = select(Exporter.id).where(
            Exporter.enabled.is_(True), Exporter.next_run_at <= now, Exporter.unclaimed(now)
        )
        until = now + dt.timedelta(seconds=lease)
        with self.db.session() as session:
            Exporter.claim(session, due, token, until, postgresql=self.db.is_postgresql)
            rows = session.scalars(select(Exporter).where(Exporter.claimed_by == token)).all()
            for row in rows:
                row.next_run_at = now + PERIODS.get(row.schedule, PERIODS["daily"])
            return [r.id for r in rows]

    def load(self, ref: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._get(session, ref)
            return {**_view(row), "claimed_by": row.claimed_by}

    def start_run(self, exporter_id: str, trigger: str) -> int:
        with self.db.session() as session:
            run = ExporterRun(exporter_id=exporter_id, trigger=trigger, state="running")
            session.add(run)
            session.flush()
            return run.id

    def finish_run(
        self, run_id: int, *, state: str, rows: int, target: str, error: str
    ) -> dict[str, Any]:
        with self.db.session() as session:
            run = session.get(ExporterRun, run_id)
            assert run is not None
            run.state, run.rows, run.target, run.error = state, rows, target[:2048], error[:4000]
            run.finished_at = utcnow()
            exporter = session.get(Exporter, run.exporter_id)
            if exporter is not None and exporter.claimed_by:
                exporter.claimed_by = None
                exporter.claim_until = None
            return _run_view(run)


def _http_body(
    headers: Sequence[str], rows: Sequence[Sequence[object]], dest: Mapping[str, str]
) -> tuple[bytes, str]:
    objects = [dict(zip(headers, r, strict=False)) for r in rows]
    if dest.get("body") == "json_array":
        return json.dumps(objects, default=str).encode(), "application/json"
    if dest.get("body") == "json_object":
        return json.dumps(
            {dest.get("array_key") or "items": objects}, default=str
        ).encode(), "application/json"
    return encode_rows(headers, rows, "jsonl"), "application/x-ndjson"


async def run_export(
    service: ExporterService,
    transport: CredentialClients,
    query_rows: Callable[[str, Mapping[str, str]], tuple[list[str], list[list[object]]]],
    exporter_id: str,
    *,
    trigger: str,
    protocol_of: Callable[[str], str | None],
) -> dict[str, Any]:
    """Run one exporter now and record the run (its rows, where they went, or the error)."""
    exporter = await anyio.to_thread.run_sync(service.load, exporter_id)
    run_id = await anyio.to_thread.run_sync(service.start_run, exporter["id"], trigger)
    rows = 0
    target = ""
    try:
        headers, data = await anyio.to_thread.run_sync(
            query_rows, exporter["query_id"], exporter["parameters"]
        )
        rows = len(data)
        dest = exporter["destination"]
        protocol = await anyio.to_thread.run_sync(protocol_of, exporter["credential_id"])
        if protocol == "SFTP":
            ext = "csv" if exporter["format"] == "csv" else "jsonl"
            stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
            safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", exporter["name"])
            name = dest["file_pattern"].format(name=safe_name, timestamp=stamp, ext=ext)
            target = dest["directory"].rstrip("/") + "/" + name
            content = encode_rows(headers, data, exporter["format"])
            async with await transport.open_sftp(exporter["credential_id"]) as sftp:
                await sftp.upload(content, target)
        else:
            body, content_type = _http_body(headers, data, dest)
            pooled = await transport.pooled_http(exporter["credential_id"])
            target = pooled.url.rstrip("/") + "/" + dest["path"].lstrip("/")
            answer = await pooled.client.post(
                target, content=body, headers={"content-type": content_type}
            )
            if not answer.is_success:
                raise RuntimeError(f"the server answered HTTP {answer.status_code}")
    except Exception as exc:  # noqa: BLE001 - every failure is the run's recorded error
        from credgate.core.logs import redact

        error = redact(str(exc) or type(exc).__name__)
        return await anyio.to_thread.run_sync(
            lambda: service.finish_run(
                run_id, state="failed", rows=rows, target=target, error=error
            )
        )
    return await anyio.to_thread.run_sync(
        lambda: service.finish_run(run_id, state="succeeded", rows=rows, target=target, error="")
    )
