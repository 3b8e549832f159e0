"""Export files round-trip for each compression; the export status life cycle."""

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from credgate.platform.nql.engine import Result
from credgate.platform.nql.export import (
    RESULTS_URL_TTL,
    ExportJob,
    ExportTransitionError,
    write_export,
)
from credgate.platform.nql.render import render_csv

RESULT = Result(
    "#devices",
    "devices | list name, ram",
    ("name", "ram"),
    [[f"device-{i}", i] for i in range(2_000)] + [["=formula", None], ["ünïcode", 1]],
)

DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "NONE": lambda b: b,
    "GZIP": gzip.decompress,
    "ZSTD": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
}


@pytest.mark.parametrize(
    ("compression", "suffix"), [("NONE", ".csv"), ("GZIP", ".csv.gz"), ("ZSTD", ".csv.zst")]
)
def test_round_trip(tmp_path: Path, compression: str, suffix: str) -> None:
    written = write_export(RESULT, tmp_path, "exp-1", compression)  # type: ignore[arg-type]
    assert written.path == tmp_path / ("exp-1" + suffix)
    assert written.compression == compression
    raw = written.path.read_bytes()
    assert written.size == len(raw)
    text = DECOMPRESS[compression](raw).decode("utf-8")
    assert text == render_csv(RESULT)
    assert "'=formula" in text
    if compression != "NONE":
        assert written.size < len(text.encode())
    assert [p.name for p in tmp_path.iterdir()] == [written.path.name]  # no temp file left


def test_gzip_header_names_no_file_and_no_time(tmp_path: Path) -> None:
    raw = write_export(RESULT, tmp_path, "e", "GZIP").path.read_bytes()
    assert raw[3] & 0x08 == 0  # FNAME flag (RFC 1952 section 2.3.1) not set
    assert raw[4:8] == b"\0\0\0\0"  # MTIME


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 129])
def test_names_cannot_leave_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="name:"):
        write_export(RESULT, tmp_path, name, "NONE")
    assert list(tmp_path.iterdir()) == []


def test_unknown_compression(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression:"):
        write_export(RESULT, tmp_path, "e", "BZIP2")  # type: ignore[arg-type]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    # A row that is not a list fails half-way through writing.
    broken = Result("#q", "", ("a",), [["ok"], None])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        write_export(broken, tmp_path, "e", "ZSTD")
    assert list(tmp_path.iterdir()) == []


def test_status_life_cycle() -> None:
    job = ExportJob("e-1")
    assert job.body() == {"status": "SUBMITTED", "resultsFileUrl": None, "errorDescription": None}
    running = job.start()
    assert running.status == "IN_PROGRESS"
    done = running.complete("https://files/e-1.csv.gz")
    assert done.body() == {
        "status": "COMPLETED",
        "resultsFileUrl": "https://files/e-1.csv.gz",
        "errorDescription": None,
    }
    assert done.http_status == 200
    assert job.status == "SUBMITTED"  # immutable


def test_truncated_export_is_206() -> None:
    assert ExportJob("e").complete("u", truncated=True).http_status == 206
    assert ExportJob("e", truncated=True).http_status == 200  # only once completed


def test_error_state() -> None:
    failed = ExportJob("e").start().fail("query timed out")
    assert failed.body() == {
        "status": "ERROR",
        "resultsFileUrl": None,
        "errorDescription": "query timed out",
    }


@pytest.mark.parametrize(
    "steps",
    [
        ("complete", "start"),
        ("complete", "fail"),
        ("fail", "complete"),
        ("start", "start"),
    ],
)
def test_terminal_states_are_final(steps: tuple[str, str]) -> None:
    job = ExportJob("e")
    calls = {
        "start": lambda j: j.start(),
        "complete": lambda j: j.complete("u"),
        "fail": lambda j: j.fail("x"),
    }
    job = calls[steps[0]](job)
    with pytest.raises(ExportTransitionError):
        calls[steps[1]](job)


def test_results_url_ttl_is_fifteen_minutes() -> None:
    assert RESULTS_URL_TTL.total_seconds() == 900
