"""The serving process freezes what start-up built out of the garbage collector's way.

Full collections on the event loop paused every request for 100-400 ms under list load
(``bench/lists.py``, ``/healthz`` max); with start-up's heap frozen they walk only what requests
made since.
"""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from credgate.app import CredgateApp
from served import SRC, ServedCredgate


def test_settle_freezes_what_is_alive_and_collects_what_is_not() -> None:
    # In a process of its own: frozen objects stay frozen for the life of the process.
    script = """
import gc
from credgate.core.heap import settle

class Node:
    pass

kept = [Node() for _ in range(1000)]
for _ in range(1000):  # garbage held only by cycles: a collection must free it, not freeze it
    node = Node()
    node.self = node
del node
frozen = settle()
print(frozen, gc.get_count()[0], len(gc.get_objects(generation=2)))
assert all(gc.is_tracked(k) for k in kept)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    frozen, young, old = (int(v) for v in done.stdout.split())
    assert frozen >= 1000  # at least the kept objects, with every module loaded so far
    assert old < 100, "after settling, the oldest generation should hold next to nothing"
    assert young < 100


def test_an_application_built_in_a_process_that_builds_others_freezes_nothing(
    app: CredgateApp,
) -> None:
    before = gc.get_freeze_count()
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        time.sleep(0.5)  # the warm-up task, after which a served application settles
    assert gc.get_freeze_count() == before


def test_credgate_serve_settles_its_heap_once_the_caches_are_warm(tmp_path: Path) -> None:
    with ServedCredgate(tmp_path, log_level="INFO") as served:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            said = served.log.read_text()
            if "caches warmed" in said and "heap settled" in said:
                break
            time.sleep(0.1)
    assert said.index("caches warmed") < said.index("heap settled"), said[-2000:]
    frozen = re.search(r"heap settled.*?frozen\W+(\d+)", said)
    assert frozen, said[-2000:]
    # Start-up builds hundreds of thousands of objects (modules, routes, templates, models).
    assert int(frozen.group(1)) > 100_000
