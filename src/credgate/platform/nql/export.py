"""NQL exports: the compressed CSV results file and the export's status.

Files are written next to their final name and moved into place with ``os.replace`` once
complete and flushed, so a reader never sees half a file.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import IO, Final, Literal, Protocol

import zstandard

from credgate.platform.nql.render import Table, write_csv
from credgate.platform.schemas.nql import Compression

__all__ = [
    "EXPORTS_PER_DAY",
    "EXPORT_ROW_LIMIT",
    "RESULTS_FILE_TTL",
    "RESULTS_URL_TTL",
    "SUFFIXES",
    "ExportFile",
    "ExportJob",
    "ExportStatus",
    "ExportTransitionError",
    "write_export",
]

SUFFIXES: Final[dict[Compression, str]] = {"NONE": ".csv", "GZIP": ".csv.gz", "ZSTD": ".csv.zst"}
RESULTS_URL_TTL: Final = timedelta(minutes=15)
"""How long a results-file URL stays valid, as documented."""
RESULTS_FILE_TTL: Final = timedelta(hours=24)
"""How long a results file is kept; then it is deleted and the export reports it expired."""
EXPORT_ROW_LIMIT: Final = 1_000_000
"""Most rows one export writes; beyond it the export is truncated (status 206)."""
EXPORTS_PER_DAY: Final = 1000
"""Exports one API credential may start per UTC day; beyond it, 429 until midnight UTC."""

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_ZSTD_LEVEL: Final = 3  # zstd's own default: fast, and most of the gain on CSV text


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A written results file: where it is, its size on disk, and how it is compressed."""

    path: Path
    size: int
    compression: Compression


class _BinarySink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Utf8Sink:
    """The text ``write`` the csv module needs, encoding onto a binary stream."""

    def __init__(self, stream: _BinarySink) -> None:
        self._stream = stream

    def write(self, text: str, /) -> int:
        return self._stream.write(text.encode("utf-8"))


@contextmanager
def _compressed(raw: IO[bytes], compression: Compression) -> Iterator[_BinarySink]:
    if compression == "GZIP":
        # Empty name and mtime 0: the header holds nothing about the host or the moment.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            yield gz
    elif compression == "ZSTD":
        writer = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).stream_writer(raw, closefd=False)
        with writer:
            yield writer
    else:
        yield raw


def write_export(
    result: Table,
    directory: Path,
    name: str,
    compression: Compression,
    *,
    guard_formulas: bool = True,
) -> ExportFile:
    """Write ``result`` as CSV to ``directory/name<suffix>`` with the chosen compression.

    ``name`` (typically the export id) must be letters, digits, ``-`` and ``_``, so that it can
    never leave ``directory``.
    """
    if not _NAME.fullmatch(name):
        raise ValueError("name: must be 1-128 letters, digits, '-' or '_'")
    if compression not in SUFFIXES:
        raise ValueError(f"compression: must be one of {', '.join(SUFFIXES)}")
    final = directory / (name + SUFFIXES[compression])
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as raw:
            with _compressed(raw, compression) as stream:
                write_csv(result, _Utf8Sink(stream), guard_formulas=guard_formulas)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, final)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return ExportFile(final, final.stat().st_size, compression)


ExportStatus = Literal["SUBMITTED", "IN_PROGRESS", "ERROR", "COMPLETED"]


class ExportTransitionError(ValueError):
    """A status change the export's life cycle does not allow (e.g. out of COMPLETED)."""


_NEXT: Final[dict[ExportStatus, frozenset[ExportStatus]]] = {
    "SUBMITTED": frozenset({"IN_PROGRESS", "COMPLETED", "ERROR"}),
    "IN_PROGRESS": frozenset({"COMPLETED", "ERROR"}),
    "COMPLETED": frozenset(),
    "ERROR": frozenset(),
}


@dataclass(frozen=True, slots=True)
class ExportJob:
    """The state of one export, as ``GET /api/v1/nql/status/{exportId}`` reports it.

    Immutable: each transition returns the next state, which the caller stores.
    """

    export_id: str
    status: ExportStatus = "SUBMITTED"
    results_file_url: str | None = None
    error_description: str | None = None
    truncated: bool = False

    def _to(self, status: ExportStatus) -> None:
        if status not in _NEXT[self.status]:
            raise ExportTransitionError(f"export {self.export_id}: {self.status} -> {status}")

    def start(self) -> ExportJob:
        """SUBMITTED -> IN_PROGRESS."""
        self._to("IN_PROGRESS")
        return replace(self, status="IN_PROGRESS")

    def complete(self, results_file_url: str, *, truncated: bool = False) -> ExportJob:
        """-> COMPLETED with the URL of the results file."""
        self._to("COMPLETED")
        return replace(
            self, status="COMPLETED", results_file_url=results_file_url, truncated=truncated
        )

    def fail(self, error_description: str) -> ExportJob:
        """-> ERROR with a description for the caller (never a secret, never a stack trace)."""
        self._to("ERROR")
        return replace(self, status="ERROR", error_description=error_description)

    @property
    def http_status(self) -> int:
        """206 when a completed export was truncated, else 200."""
        return 206 if self.status == "COMPLETED" and self.truncated else 200

    def body(self) -> dict[str, object]:
        """Body of the status endpoint: ``{status, resultsFileUrl, errorDescription}``."""
        return {
            "status": self.status,
            "resultsFileUrl": self.results_file_url,
            "errorDescription": self.error_description,
        }
