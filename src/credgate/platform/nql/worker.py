"""The export worker: runs queued NQL exports in the background and deletes expired files.

An export is a durable job, its ``platform_requests`` row: ``SUBMITTED`` when accepted, claimed
(``IN_PROGRESS``, with a lease the running export renews) by one worker, then ``COMPLETED`` or
``ERROR``. A node stopped mid-export leaves the lease to lapse; any worker then claims the job
again, so exports survive a restart. Work runs on a thread of its own, never on the event loop:
an accepted export wakes the worker at once, and :meth:`ExportWorker.run` looks for queued jobs
and expired files on a period, which also picks up what a stopped node left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Protocol

import anyio.to_thread

__all__ = ["ExportJobs", "ExportWorker"]

log = logging.getLogger("credgate.platform.exports")


class ExportJobs(Protocol):
    def claim_export(self) -> str | None:
        """Claim the oldest queued (or abandoned) export; its id, or None."""
        ...

    def run_export(self, export_id: str) -> None:
        """Run a claimed export to COMPLETED or ERROR."""
        ...

    def expire_exports(self) -> int:
        """Delete results files past their time; how many."""
        ...


class ExportWorker:
    def __init__(self, jobs: ExportJobs, *, poll_seconds: float = 5.0) -> None:
        self._jobs = jobs
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def drain(self) -> int:
        """Run queued exports until none is left (blocking); how many ran."""
        ran = 0
        while (export_id := self._jobs.claim_export()) is not None:
            try:
                self._jobs.run_export(export_id)
            except Exception:  # one broken export never stops the others; its lease lapses
                log.exception("export %s failed", export_id)
            ran += 1
        return ran

    def wake(self) -> None:
        """Run queued exports now, on the worker's thread (started if idle)."""
        with self._lock:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._loop, name="credgate-nql-exports")
            self._thread.daemon = True
            self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.drain()
            except Exception:  # a database hiccup: the next wake or period retries
                log.exception("export queue check failed")
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker's thread, if running (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: wake on a period for queued or abandoned exports; expire files."""
        while not stop.is_set():
            self.wake()
            try:
                await anyio.to_thread.run_sync(self._jobs.expire_exports)
            except Exception:
                log.exception("export expiry failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
        # Let an export in flight finish before the database closes; one that takes longer
        # keeps its job, whose lease lapses for the next node.
        await anyio.to_thread.run_sync(self.join, 10.0)
