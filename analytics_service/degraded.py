"""One log line per degraded condition: when it starts (saying what the service does about
it) and when it ends, not one per request. Conditions are named by the caller; messages
never carry a key, a cached value or a record's content."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("analytics_service")

_active: dict[str, str] = {}
_lock = threading.Lock()
_MAX = 1024  # a bound on remembered conditions (e.g. many broken runs)


def report(condition: str, message: str) -> None:
    """Log `message` as a warning unless `condition` is already reported with it."""
    with _lock:
        if _active.get(condition) == message:
            return
        if len(_active) >= _MAX:
            _active.pop(next(iter(_active)))
        _active[condition] = message
    log.warning("%s", message)


def clear(condition: str, message: str) -> None:
    """Log `message` once when `condition` was reported and is over."""
    with _lock:
        if _active.pop(condition, None) is None:
            return
    log.warning("%s", message)


def active() -> dict[str, str]:
    """The conditions reported and not cleared, with their messages."""
    with _lock:
        return dict(_active)
