"""NQL API requests: ``POST /api/v1|v2/nql/execute``, ``GET|POST /api/v1/nql/export``.

Error body: the document's ``ErrorResponse``, ``{message, code, source}``, whose ``code`` is an
integer (the HTTP status) and whose ``source`` names the field at fault (``body`` when the
request as a whole is unusable). The document lists no 400: a refused request is answered with
its closest documented status, 404, "no query associated with that ID" (``docs/contract.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

from pydantic import Field, ValidationError

from credgate.core import permissions
from credgate.platform.nql.engine import ParameterError
from credgate.platform.schemas._common import (
    Problem,
    RequestError,
    WireModel,
    describe,
    load_json,
    parse_model,
    problems_from,
)

__all__ = [
    "COMPRESSIONS",
    "PERMISSION",
    "QUERY_ID_PATTERN",
    "REFUSED",
    "Compression",
    "ExecuteRequest",
    "ExportRequest",
    "OutputFormat",
    "error_body",
    "export_response",
    "negotiate_format",
    "not_found",
    "parameter_error",
    "parse_execute",
    "parse_export",
    "parse_export_query",
    "utc_times_requested",
]

PERMISSION: Final = permissions.NQL.id
REFUSED: Final = 404
"""The status of a refused request: the document lists no 400."""
QUERY_ID_PATTERN: Final = r"^#[a-z0-9_]{2,255}$"

Compression = Literal["ZSTD", "GZIP", "NONE"]
COMPRESSIONS: Final[tuple[Compression, ...]] = ("ZSTD", "GZIP", "NONE")
OutputFormat = Literal["json", "csv"]


class ExecuteRequest(WireModel):
    """``{"queryId": "#name", "parameters": {...}}``; parameters are sent without the ``$``."""

    query_id: str = Field(pattern=QUERY_ID_PATTERN)
    parameters: dict[str, str] = Field(default_factory=dict)


class ExportRequest(ExecuteRequest):
    """An execute request plus the export file's compression (``NONE`` when omitted)."""

    compression: Compression = "NONE"


def error_body(message: str, status: int, source: str) -> dict[str, object]:
    """The NQL API's documented ``ErrorResponse``; its integer ``code`` is the HTTP status."""
    return {"message": message, "code": status, "source": source}


def _fail(problems: Sequence[Problem]) -> RequestError:
    return RequestError(
        REFUSED, error_body(describe(problems), REFUSED, problems[0].field), problems
    )


def parse_execute(body: object) -> ExecuteRequest:
    """Parse the body of ``POST /api/v1|v2/nql/execute``."""
    return parse_model(ExecuteRequest, body, _fail)


def parse_export(body: object) -> ExportRequest:
    """Parse the body of ``POST /api/v1/nql/export``."""
    return parse_model(ExportRequest, body, _fail)


def parse_export_query(query: Mapping[str, str] | Iterable[tuple[str, str]]) -> ExportRequest:
    """Parse the query string of ``GET /api/v1/nql/export``.

    ``queryId`` and ``compression`` are named parameters. Query parameters are accepted in the
    three usual encodings of an object in a query string: OpenAPI's default form-explode (any
    other name is a query parameter), deep-object ``parameters[name]=value``, and a JSON object
    in ``parameters``.
    """
    pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    data: dict[str, object] = {}
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in ("queryId", "compression"):
            data[name] = value
        elif name == "parameters":
            try:
                decoded = load_json(value)
            except ValueError:  # not JSON, or nested too deeply to decode
                decoded = None
            if not isinstance(decoded, dict):
                problem = Problem("parameters", "must be a JSON object", "type")
                raise _fail([problem]) from None
            params.update(decoded)
        elif name.startswith("parameters[") and name.endswith("]"):
            params[name[len("parameters[") : -1]] = value
        else:
            params[name] = value
    data["parameters"] = params
    try:
        return ExportRequest.model_validate(data)
    except ValidationError as exc:
        raise _fail(problems_from(exc)) from None


def negotiate_format(accept: str | None) -> OutputFormat:
    """Choose JSON or CSV from an ``Accept`` header (RFC 9110 section 12.5.1).

    JSON is the default for a missing, empty or wildcard header. Anything else is the documented
    406 with the NQL error body.
    """
    if accept is None or not accept.strip():
        return "json"
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, media.lower()))
    for _, _, media in sorted(ranked):
        if media in ("application/json", "application/*", "*/*"):
            return "json"
        if media in ("text/csv", "text/*"):
            return "csv"
    raise RequestError(
        406,
        error_body(
            'The Accept header should be "application/json", "text/csv" or empty', 406, "Accept"
        ),
    )


def utc_times_requested(value: str | None) -> bool:
    """Whether the optional ``x-utc-times`` header asks for UTC date-times."""
    return value is not None and value.strip().lower() == "true"


def not_found(query_id: str) -> RequestError:
    """404 for a ``queryId`` that names no saved query."""
    return RequestError(
        404, error_body(f"No query associated with the ID {query_id}", 404, "queryId")
    )


def parameter_error(exc: ParameterError) -> RequestError:
    """A parameter the query needs and lacks, or whose value does not fit (:data:`REFUSED`)."""
    return RequestError(
        REFUSED,
        error_body(str(exc), REFUSED, f"parameters.{exc.name}"),
        [Problem(f"parameters.{exc.name}", exc.reason)],
    )


def export_response(export_id: str) -> dict[str, object]:
    """200 body of ``/api/v1/nql/export``."""
    return {"exportId": export_id}
