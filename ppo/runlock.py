"""The run lock (docs/RUN_RECORDS.md, "Liveness and the run lock"): one trainer per run.

While a trainer works on a run it holds an exclusive `fcntl.flock` on `runs/<run_id>/lock`,
whose content names the holder (`{"pid", "hostname", "started_at"}`). The operating system
drops the lock when the process dies however it dies, so a lock file left behind by a dead
trainer is harmless and is simply taken by the next trainer.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ppo.records import utc_now

LOCK_NAME = "lock"
# Readers (analytics_service's liveness check, check_unlocked) hold a shared lock for a
# moment to test the file; a trainer starting at that moment retries this long before it
# decides that a live trainer holds the run.
RETRY_S = 0.2
RETRY_POLL_S = 0.01


def _flock_retrying(fd: int, op: int) -> bool:
    """flock(fd, op) without blocking for more than RETRY_S; False when still held."""
    deadline = time.monotonic() + RETRY_S
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
        time.sleep(RETRY_POLL_S)


class RunLocked(RuntimeError):
    """Another live process holds the run's lock; the message names its pid and host."""


def _holder_text(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    pid, host = info.get("pid", "?"), info.get("hostname", "?")
    since = f" since {info['started_at']}" if info.get("started_at") else ""
    return f"pid {pid} on {host}{since}"


class RunLock:
    """An exclusive lock on one run directory, held until `release()` or process exit."""

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir, self._fd = run_dir, fd

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take the lock of `run_dir` (created if missing) and write the holder's details.

        Raises RunLocked, naming the holder, when a live process holds it (a shared lock
        held for a moment by a reader is waited out: up to RETRY_S).
        """
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _flock_retrying(fd, fcntl.LOCK_EX):
            os.close(fd)
            raise RunLocked(
                f"run {run_dir.name} is being trained by {_holder_text(path)}; "
                f"wait for it to end or stop it first"
            ) from None
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started_at": utc_now(),
        }
        data = json.dumps(info).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        return cls(run_dir, fd)

    def release(self) -> None:
        """Drop the lock (the file stays; its content is stale from now on)."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def check_unlocked(run_dir: Path) -> None:
    """RunLocked when a live process holds `run_dir`'s lock (a quick check before heavy
    work; the trainer still takes the lock itself)."""
    path = run_dir / LOCK_NAME
    if not path.is_file():
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunLocked(
            f"run {run_dir.name} is being trained by {_holder_text(path)}; "
            f"wait for it to end or stop it first"
        ) from None
    finally:
        os.close(fd)
