"""The serving process's garbage collector.

A serving process holds a large, long-lived heap from its first seconds: modules, the
application, templates, cached clients and definitions. Python's full collection walks all of it,
and on the event loop that is a pause every request waits through (100-400 ms under list load on
two cores). Frozen objects are skipped by every collection, so freezing what start-up built
leaves the full collections only the objects requests made since.
"""

from __future__ import annotations

import gc


def settle() -> int:
    """Collect what start-up left behind, then freeze the rest; the number of objects frozen.

    For a process that serves for its whole life (``credgate serve``), not for one that builds
    and drops applications (tests): frozen objects are never collected again.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
