"""NQL benchmark: saved queries answered from the database, at 100k and 1M devices.

    PYTHONPATH=src python bench/nql.py [--sizes 100000,1000000] [--backends sqlite,postgresql]
                                       [--rounds 5]

For each back end and size, a fresh database is migrated and seeded in bulk (devices with a
name, an OS, a rack, RAM and tags; one typed index entry per field), then a separate process
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
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import NullPool

from credgate.core.db import Database
from credgate.migrations import migrate
from credgate.platform.definitions import DefinitionService
from credgate.platform.models import InventoryObject, InventoryValue
from credgate.platform.nql.engine import validate_query_definition
from credgate.platform.nql.index import entries, object_row
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
    "columns": ["name", "uid", "os", "ram_gb"],
}
RESULT = {
    "id": "#devices_in_rack",
    "object": "devices",
    "filters": [{"field": "rack", "op": "eq", "value": "$rack"}],
    "columns": ["name", "uid", "os", "ram_gb", "tags"],
    "sort": [{"field": "name"}],
}


def _devices(size: int) -> Iterator[tuple[int, str, str, dict[str, Any]]]:
    racks = size // RESULT_ROWS
    for n in range(1, size + 1):
        fields = {
            "os": OSES[n % len(OSES)],
            "rack": n % racks,
            "ram_gb": 4 << (n % 4),
            "tags": ["eu" if n % 2 else "us", f"floor-{n % 7}"],
        }
        yield n, f"{uuid.UUID(int=n)}", f"device-{n:07d}", fields


def _chunks(size: int) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, object]]]]:
    objects: list[dict[str, Any]] = []
    values: list[dict[str, object]] = []
    now = datetime.now(UTC)
    for n, uid, name, fields in _devices(size):
        objects.append(
            {
                "id": n,
                "object": "device",
                "uid": uid,
                "name": name,
                "fields": fields,
                "created_at": now,
                "updated_at": now,
            }
        )
        values.extend(entries(n, "device", object_row(uid, {"name": name}, fields)))
        if len(objects) == CHUNK:
            yield objects, values
            objects, values = [], []
    if objects:
        yield objects, values


def _copy(db: Database, size: int) -> None:
    """PostgreSQL: COPY, the bulk path."""
    object_columns = ("id", "object", "uid", "name", "fields", "created_at", "updated_at")
    value_columns = (
        "object_id",
        "field",
        "position",
        "object",
        "kind",
        "num",
        "key",
        "text",
        "folded",
    )
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for objects, values in _chunks(size):
            with cursor.copy(  # type: ignore[attr-defined]
                f"COPY platform_inventory ({', '.join(object_columns)}) FROM STDIN"
            ) as copy:
                for o in objects:
                    copy.write_row(
                        [json.dumps(o[c]) if c == "fields" else o[c] for c in object_columns]
                    )
            with cursor.copy(  # type: ignore[attr-defined]
                f"COPY platform_inventory_values ({', '.join(value_columns)}) FROM STDIN"
            ) as copy:
                for v in values:
                    copy.write_row([v[c] for c in value_columns])
        raw.commit()
    finally:
        raw.close()


def _insert(db: Database, size: int) -> None:
    """SQLite: executemany in one transaction."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        for objects, values in _chunks(size):
            conn.execute(insert(InventoryObject.__table__), objects)
            conn.execute(insert(InventoryValue.__table__), values)


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
            many = platform.run_query(result, {"rack": str(r + 1)}, max_rows=100_000)
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
                        check=True, capture_output=True, text=True,
                    )  # fmt: skip
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
