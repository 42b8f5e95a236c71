"""Background warm-up of local runs' history: the window columns (about 1 CPU-second to
parse a 10,000-window windows.jsonl) and the default `/history` body, built before a page
asks for them.

One daemon thread, at low CPU priority, works through a short queue of run ids: the
newest `ANALYTICS_WARM_RUNS` runs at start-up, and the runs a `/api/local/runs` answer
lists. It never blocks a request (a request for a run being warmed waits only for that
run's columns, which it would otherwise build itself) and never raises: a damaged file is
left to the request, which answers it as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from analytics_service import columns, history, records
from analytics_service.keys import WINDOW_KEYS

log = logging.getLogger("analytics_service.warmup")

MAX_PENDING = 8  # the column store keeps 16 runs: warming more would evict what it built


class Warmer:
    """Warms runs under `runs_dir` in one background thread (started on first use)."""

    def __init__(self, runs_dir: Path, max_pending: int = MAX_PENDING) -> None:
        self.runs_dir = Path(runs_dir)
        self.max_pending = max_pending
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = False
        self._newest: tuple[int, Callable[[int], list[str]]] = (0, lambda _: [])
        self.warmed = 0  # runs whose columns it parsed (and built their default body)
        self.failed = 0  # runs whose records could not be read (left to the request)

    def request(self, run_ids: Iterable[str]) -> None:
        """Queue runs to warm (those already queued keep their place; beyond
        `max_pending` queued runs the rest are dropped)."""
        with self._cv:
            if self._closed:
                return
            for run_id in run_ids:
                if len(self._pending) >= self.max_pending:
                    break
                self._pending.setdefault(run_id, None)
            if self._pending:
                self._start()
                self._cv.notify()

    def request_newest(self, count: int, newest: Callable[[int], list[str]]) -> None:
        """Queue the `count` newest runs, found by `newest(count)` in the warm thread (the
        listing reads every run.json once, which start-up should not wait for)."""
        if count <= 0:
            return
        with self._cv:
            self._pending.setdefault(_NEWEST, None)
            self._newest = (count, newest)
            self._start()
            self._cv.notify()

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being warmed (for tests and benchmarks)."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._pending.clear()
            self._cv.notify_all()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="warmup", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        # Linux: a thread's nice value is its own; the requests keep their priority.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                run_id, _ = self._pending.popitem(last=False)
                self._busy = True
            try:
                if run_id == _NEWEST:
                    count, newest = self._newest
                    self.request(newest(count))
                else:
                    self._warm(run_id)
            except Exception as exc:  # the warm-up must never take anything down
                self.failed += 1
                log.debug("warm-up of %s skipped: %s", run_id, type(exc).__name__)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _warm(self, run_id: str) -> None:
        path = records.run_dir(self.runs_dir, run_id)
        if path is None:
            return
        file = path / "windows.jsonl"
        if columns.store.cached(file):
            return  # ready (a listed run is queued on every poll of the runs list)
        builds = columns.store.builds
        cols = columns.store.get(file)
        if columns.store.builds == builds:
            return  # only appended lines (a live run): cheap for its next request anyway
        wanted = list(WINDOW_KEYS)
        mp = history.DEFAULT_MAX_POINTS
        key = history.history_key("local", run_id, cols, cols.loaded_at, False, wanted, mp)
        history.cached_body(
            key,
            lambda: history.encoded("local", run_id, cols, cols.loaded_at, False, wanted, mp),
            gz=True,
        )
        self.warmed += 1


_NEWEST = "\0newest"  # a queue entry that is no run id (ids are [A-Za-z0-9_-])
