"""Run liveness: whether a run whose records say `running` still has a live trainer.

The reader side of docs/RUN_RECORDS.md "Liveness and the run lock". A trainer holds an
exclusive `flock` on `runs/<id>/lock` (JSON `{"pid", "hostname", "started_at"}`) while it
works, and rewrites run.json's `updated_at` (its heartbeat) at start-up, after compiling and
at every window's end. A run that says `running` reads as:

- `crashed`: the lock's host is this host and no process holds the lock, or there is no
  lock file and the heartbeat is older than the bound;
- `stalled`: the lock is held (or its holder is on another host, where it cannot be
  checked) and the heartbeat is older than the bound;
- `running` otherwise.

The bound is `max(120 s, 5 x median window_time_s)` once a window row exists, and
`max(600 s, ...)` before (compiling). Files are only read, never written or locked
exclusively; a shared non-blocking `flock` taken for the check is released at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics_service.records import read_regular
from analytics_service.views import as_float, as_str, parse_time

LOCK_FILE = "lock"
LOCK_MAX_BYTES = 64 * 1024  # a trainer's lock JSON is ~100 bytes; more is not one
FLOOR_S = 120.0
FLOOR_BEFORE_FIRST_WINDOW_S = 600.0
WINDOWS_PER_BOUND = 5.0


def bound_s(window_times_s: Iterable[Any]) -> float:
    """The liveness bound in seconds for a run whose window rows hold these
    `window_time_s` values (non-numbers ignored; none at all: before the first window)."""
    times = [t for t in (as_float(v) for v in window_times_s) if t is not None and t >= 0]
    if not times:
        return FLOOR_BEFORE_FIRST_WINDOW_S
    return max(FLOOR_S, WINDOWS_PER_BOUND * statistics.median(times))


def heartbeat_stale(heartbeat: Any, bound: float, now: datetime) -> bool:
    """True when the heartbeat (an ISO 8601 string, or seconds since the epoch) is older
    than `bound` seconds; an absent or unreadable heartbeat counts as stale (nothing shows
    the trainer is alive)."""
    at = parse_time(heartbeat)
    epoch = as_float(heartbeat)
    if at is None and epoch is not None:
        try:
            at = datetime.fromtimestamp(epoch, UTC)
        except (OverflowError, OSError, ValueError):
            at = None
    return at is None or (now - at).total_seconds() > bound


def _lock_holder(path: Path) -> tuple[bool, str | None]:
    """(exists, hostname) of a run's lock file; hostname None when unreadable."""
    try:
        text = read_regular(path, LOCK_MAX_BYTES)
    except FileNotFoundError:
        return False, None
    except OSError:  # unreadable, or no regular file (a FIFO, /dev/zero): never block on it
        return True, None
    try:
        meta = json.loads(text)
    except ValueError:
        return True, None  # being written by a trainer that is starting, or damaged
    return True, as_str(meta.get("hostname")) if isinstance(meta, dict) else None


def lock_is_held(path: Path) -> bool | None:
    """True when some process holds the flock on `path`, False when none does, None when
    that cannot be checked (the file vanished or cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def effective_state(
    state: str,
    run_path: Path,
    heartbeat: Any,
    window_times_s: Iterable[Any],
    now: datetime,
    hostname: str | None = None,
) -> str:
    """The state to report for a local run whose records say `state` (see module doc)."""
    if state != "running":
        return state
    host = hostname if hostname is not None else socket.gethostname()
    stale = heartbeat_stale(heartbeat, bound_s(window_times_s), now)
    lock = run_path / LOCK_FILE
    exists, holder_host = _lock_holder(lock)
    if not exists:
        return "crashed" if stale else "running"
    if holder_host == host:
        held = lock_is_held(lock)
        if held is False:
            return "crashed"
    elif holder_host is None and lock_is_held(lock) is False and stale:
        # An unreadable lock that nobody holds, and no heartbeat: the trainer is gone.
        return "crashed"
    return "stalled" if stale else "running"


def wandb_state(state: str, last_log: Any, window_times_s: Iterable[Any], now: datetime) -> str:
    """The state to report for a W&B run. W&B marks a run `crashed` itself when its process
    stops heartbeating (SIGKILL, OOM kill, machine loss); a trainer that hangs while its
    W&B process lives on is caught here: `running` with no window logged within the bound
    (`last_log`: the time of the last window row, or the run's start before the first)
    reads `stalled`."""
    if state != "running":
        return state
    return "stalled" if heartbeat_stale(last_log, bound_s(window_times_s), now) else "running"
