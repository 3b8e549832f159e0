"""NQL benchmark: saved queries answered from the database, at 100k and 1M devices.

    PYTHONPATH=src python bench/nql.py [--sizes 100000,1000000] [--backends sqlite,postgresql]
                                       [--rounds 5]

For each back end and size, a fresh database is migrated and seeded in bulk (devices with a
name, an OS and a rack; one typed index entry per field), then a separate process
answers, ``rounds`` times each, through the platform service and the v1 renderer:

- a 1-row lookup, ``name == $name`` (a device in the middle of the inventory);
- a 10,000-row result, ``rack == $rack`` sorted by name, written as CSV;

and reports the medians and its peak RSS (the seeding process does not count). Targets
(SPEC section 10): lookup under 50 ms at 1M, 10,000 rows under 1 s, peak RSS under 300 MiB,
lookup at 1M / lookup at 100k under 2.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from credgate.core.db import Database
from credgate.migrations import migrate
from credgate.platform.definitions import DefinitionService
from credgate.platform.nql.engine import validate_query_definition
from credgate.platform.nql.index import entries
from credgate.platform.nql.render import render_csv, render_v1
from credgate.platform.services import PlatformService
from credgate.security.secrets import SecretHasher

PG_ADMIN = os.environ.get(
    "CREDGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
RESULT_ROWS = 10_000
CHUNK = 50_000
OSES = ("Windows 11", "Windows 10", "macOS 14", "Ubuntu 24.04")
INDEXES = ("ix_platform_inventory_values_num", "ix_platform_inventory_values_key")
TARGETS = {"lookup_ms": 50.0, "result_ms": 1000.0, "rss_mib": 300.0, "ratio": 2.0}

LOOKUP = {
    "id": "#device_by_name",
    "object": "devices",
    "filters": [{"field": "name", "op": "eq", "value": "$name"}],
    "columns": ["name", "uid", "os", "rack"],
}
RESULT = {
    "id": "#devices_in_rack",
    "object": "devices",
    "filters": [{"field": "rack", "op": "eq", "value": "$rack"}],
    "columns": ["name", "uid", "os", "rack"],
    "sort": [{"field": "name"}],
}


def _chunks(size: int) -> Iterator[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """Devices and their index entries as tuples, as :func:`entries` would write them (each
    field here is text or an integer, so the entries are built directly: seeding is the slow
    part of the run)."""
    racks = size // RESULT_ROWS
    now = datetime.now(UTC)
    objects: list[tuple[object, ...]] = []
    values: list[tuple[object, ...]] = []
    for n in range(1, size + 1):
        uid, name, os_name, rack = str(uuid.UUID(int=n)), f"device-{n:07d}", OSES[n % 4], n % racks
        fields = {"os": os_name, "rack": rack}
        objects.append((n, "device", uid, name, json.dumps(fields), now, now))
        for field, value in (("uid", uid), ("name", name), ("os", os_name)):
            values.append((n, field, -1, "device", "text", None, value, value, value.casefold()))
        values.append((n, "rack", -1, "device", "int", float(rack), None, None, str(rack)))
        if n % CHUNK == 0 or n == size:
            yield objects, values
            objects, values = [], []


def _check_entries() -> None:
    """The hand-built entries are the ones the index writes."""
    objects, values = next(_chunks(RESULT_ROWS))
    n, _, uid, name, fields = objects[0][:5]
    row = {"uid": uid, "name": name, **json.loads(str(fields))}
    expected = [tuple(e[c] for c in VALUE_COLUMNS) for e in entries(int(str(n)), "device", row)]
    assert sorted(values[:4], key=str) == sorted(expected, key=str), (values[:4], expected)


OBJECT_COLUMNS = ("id", "object", "uid", "name", "fields", "created_at", "updated_at")
VALUE_COLUMNS = ("object_id", "field", "position", "object", "kind", "num", "key", "text", "folded")


def _copy(db: Database, size: int) -> None:
    """PostgreSQL: COPY, the bulk path."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for objects, values in _chunks(size):
            for table, columns, rows in (
                ("platform_inventory", OBJECT_COLUMNS, objects),
                ("platform_inventory_values", VALUE_COLUMNS, values),
            ):
                statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(statement) as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


_INSERT_OBJECTS = (
    "INSERT INTO platform_inventory (id, object, uid, name, fields, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_VALUES = (
    "INSERT INTO platform_inventory_values"
    " (object_id, field, position, object, kind, num, key, text, folded)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _insert(db: Database, size: int) -> None:
    """SQLite: executemany in one transaction."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for objects, values in _chunks(size):
            stamp = objects[0][5].strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]
            cursor.executemany(_INSERT_OBJECTS, [(*o[:5], stamp, stamp) for o in objects])
            cursor.executemany(_INSERT_VALUES, values)
        raw.commit()
    finally:
        raw.close()


def seed(db: Database, size: int) -> float:
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for name in INDEXES:
            conn.execute(text(f"DROP INDEX {name}"))
    (_copy if db.is_postgresql else _insert)(db, size)
    with db.engine.begin() as conn:  # indexes after the load: one sort each
        conn.execute(
            text(
                f"CREATE INDEX {INDEXES[0]} ON platform_inventory_values (object, field, kind, num, position, object_id)"
            )
        )
        conn.execute(
            text(
                f"CREATE INDEX {INDEXES[1]} ON platform_inventory_values (object, field, kind, key, position, object_id)"
            )
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Statistics for the planner; on PostgreSQL, the visibility map index-only scans need.
        conn.execute(text("VACUUM ANALYZE" if db.is_postgresql else "ANALYZE"))
    return time.perf_counter() - started


def _peak_rss_mib() -> float:
    """This process's peak RSS since it started (VmHWM: unlike ru_maxrss, not inherited)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def answer(url: str, size: int, rounds: int) -> dict[str, float]:
    """In a fresh process: time both queries and report the peak RSS."""
    db = Database(url)
    with tempfile.TemporaryDirectory() as exports:
        platform = PlatformService(
            db, DefinitionService(db), SecretHasher(b"b" * 32), Path(exports)
        )
        lookup = validate_query_definition(LOOKUP)
        result = validate_query_definition(RESULT)
        lookups, results = [], []
        for r in range(rounds):
            name = f"device-{size // 2 + r:07d}"
            started = time.perf_counter()
            found = platform.run_query(lookup, {"name": name}, max_rows=100_000)
            json.dumps(render_v1(found, datetime.now(UTC)))
            lookups.append((time.perf_counter() - started) * 1000)
            assert [row[0] for row in found.rows] == [name], found.rows
            started = time.perf_counter()
            many = platform.run_query(
                result, {"rack": str(r % (size // RESULT_ROWS))}, max_rows=100_000
            )
            io.StringIO(render_csv(many))
            results.append((time.perf_counter() - started) * 1000)
            assert len(many.rows) == RESULT_ROWS, len(many.rows)
    db.dispose()
    return {
        "lookup_ms": statistics.median(lookups),
        "result_ms": statistics.median(results),
        "rss_mib": _peak_rss_mib(),
        "cpu_s": time.process_time(),
    }


def _database(backend: str, workdir: Path, size: int) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'nql-{size}.db'}", None
    name = f"credgate_bench_nql_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str | None) -> None:
    if name is None:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--answer", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.answer:
        print(json.dumps(answer(args.answer, args.size, args.rounds)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    _check_entries()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            figures: dict[int, dict[str, float]] = {}
            for size in sizes:
                url, created = _database(backend, Path(tmp), size)
                try:
                    db = Database(url)
                    migrate(db)
                    took = seed(db, size)
                    db.dispose()
                    out = subprocess.run(
                        [sys.executable, __file__, "--answer", url, "--size", str(size), "--rounds", str(args.rounds)],
                        check=False, capture_output=True, text=True,
                    )  # fmt: skip
                    if out.returncode != 0:
                        raise SystemExit(f"answering failed:\n{out.stderr}")
                    figures[size] = json.loads(out.stdout)
                finally:
                    _drop(created)
                f = figures[size]
                print(
                    f"{backend:<10} {size:>9,} devices (seeded in {took:5.1f} s): "
                    f"1-row lookup {f['lookup_ms']:7.2f} ms   {RESULT_ROWS:,}-row result "
                    f"{f['result_ms']:7.1f} ms   peak RSS {f['rss_mib']:6.1f} MiB",
                    flush=True,
                )
                failed |= (
                    f["rss_mib"] >= TARGETS["rss_mib"] or f["result_ms"] >= TARGETS["result_ms"]
                )
            if len(sizes) >= 2:
                big, small = figures[max(sizes)], figures[min(sizes)]
                ratio = big["lookup_ms"] / small["lookup_ms"]
                print(
                    f"{backend:<10} lookup {max(sizes):,} / {min(sizes):,}: {ratio:.2f} "
                    f"(target < {TARGETS['ratio']}); lookup at {max(sizes):,}: "
                    f"{big['lookup_ms']:.2f} ms (target < {TARGETS['lookup_ms']:.0f})",
                    flush=True,
                )
                failed |= ratio >= TARGETS["ratio"] or big["lookup_ms"] >= TARGETS["lookup_ms"]
    print("FAIL" if failed else "all targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
