"""The response cache: diskcache with per-entry TTL, stale-while-error and single-flight.

- A fresh entry is served without touching the source.
- On a miss or an expired entry one fetch runs per key (concurrent requests await it).
- When the fetch fails (or exceeds its deadline) the last good value is served with
  `stale: true`; with no value the error goes to the client. After a failure the key
  backs off (`error_backoff_s`, or the upstream's Retry-After) so a failing W&B is not
  hammered; stale data keeps flowing meanwhile.
- A fetch that outruns its deadline keeps running and fills the cache when it completes
  (no second fetch for that key meanwhile), so a slow source still gets cached.
- "Not found" answers are cached briefly (`ttl_not_found_s`).
- A small in-memory layer in front of the disk serves hot entries without SQLite.
- Entries live on disk under `cache_dir` (bounded by `cache_size_mb`), so a restart keeps
  them. Single-flight is per process: run one worker per cache directory.
- The disk is the service's own state and never takes the service down: a damaged
  database (garbage, truncated) is moved aside to `<cache_dir>.damaged-<time>` and a new one
  built; a directory that cannot be written (read-only, full, gone) leaves the memory layer
  only until the disk works again; a directory deleted while running is rebuilt. Each such
  condition logs one warning saying what was done (never a key or a cached value).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import diskcache

from analytics_service import degraded
from analytics_service.errors import ApiError, NotFound, UpstreamTimeout

log = logging.getLogger("analytics_service.cache")


@dataclass(frozen=True)
class Cached:
    """A value with when it was fetched and whether it is stale."""

    value: Any
    fetched_at: datetime
    stale: bool
    expires: float | None = None  # wall-clock end of freshness; None when stale


_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_RECHECK_S = 5.0  # how often the disk cache's file is checked while things seem fine
_RETRY_S = 30.0  # how often a failed disk is tried again
_MAX_REBUILDS = 3  # per process: a disk that keeps damaging its files stays unused


def _is_damage(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc).lower()
    return code in _CORRUPT_CODES or "not a database" in text or "malformed" in text


def _why(exc: BaseException) -> str:
    # A short reason for the log: the error's own text, without paths or values.
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


class ResponseCache:
    """See the module docstring. `degraded` says why there is no disk cache ('' when it
    is in use)."""

    def __init__(
        self, directory: Path, *, size_mb: int, error_backoff_s: float, ttl_not_found_s: float
    ) -> None:
        self.directory = Path(directory)
        self.size_limit = size_mb * 1024 * 1024
        self.error_backoff_s = error_backoff_s
        self.ttl_not_found_s = ttl_not_found_s
        self.disk: diskcache.Cache | None = None
        self.degraded = ""
        self._db_id: tuple[int, int] | None = None  # (st_dev, st_ino) of the open cache.db
        self._checked = 0.0
        self._rebuilds = 0
        self._inflight: dict[str, asyncio.Future[Cached]] = {}
        # Hot entries in memory too: a hit then costs a dict lookup, not a SQLite read.
        self._mem: OrderedDict[str, dict] = OrderedDict()
        self._mem_items = 512
        self._backoff: dict[str, tuple[float, ApiError]] = {}
        self._late: dict[str, asyncio.Future] = {}  # fetches that outran their deadline
        self._open()

    # ---- the disk, and what happens when it fails ----------------------------------------

    def _open(self) -> None:
        """Open the disk cache; on damage move it aside and build a new one; on any other
        failure run from memory (each outcome logged once)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.disk = diskcache.Cache(str(self.directory), size_limit=self.size_limit)
        except Exception as exc:  # sqlite3 and OS errors of every kind
            self.disk = None
            if _is_damage(exc) and self._move_aside(exc):
                self._open()
                return
            self._degrade(f"cannot use {self.directory} ({_why(exc)}); caching in memory only")
            return
        self._db_id = self._stat_db()
        self._checked = time.monotonic()
        # (`degraded` is cleared by the next successful write, not by opening: a full disk
        # opens fine and fails on the first write)

    def _move_aside(self, exc: BaseException) -> bool:
        if self._rebuilds >= _MAX_REBUILDS:
            return False
        self._rebuilds += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = self.directory.with_name(f"{self.directory.name}.damaged-{stamp}-{os.getpid()}")
        try:
            self.directory.rename(aside)
        except OSError as err:
            log.warning(
                "cache in %s is damaged (%s) and cannot be moved aside (%s)",
                self.directory,
                _why(exc),
                _why(err),
            )
            return False
        log.warning(
            "cache in %s is damaged (%s): moved aside to %s, building a new one",
            self.directory,
            _why(exc),
            aside,
        )
        return True

    def _degrade(self, reason: str) -> None:
        if reason != self.degraded:
            log.warning("%s", reason)
        self.degraded = reason

    def _stat_db(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.directory / "cache.db")
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _close_disk(self) -> None:
        disk, self.disk = self.disk, None
        if disk is not None:
            with contextlib.suppress(Exception):  # closing a broken cache must not fail
                disk.close()

    def _recheck(self) -> None:
        """Now and then: reopen a disk cache whose file was deleted or replaced, and retry a
        disk that failed (it may have been freed or remounted)."""
        now = time.monotonic()
        if now - self._checked < (_RETRY_S if self.disk is None else _RECHECK_S):
            return
        self._checked = now
        if self.disk is None:
            self._open()
        elif self._stat_db() != self._db_id:
            log.warning(
                "cache in %s was deleted or replaced while running; rebuilding it", self.directory
            )
            self._close_disk()
            self._open()

    def _disk_failed(self, op: str, exc: BaseException) -> None:
        self._close_disk()
        if _is_damage(exc) and self._move_aside(exc):
            self._open()
            return
        self._degrade(
            f"disk cache {op} failed in {self.directory} ({_why(exc)}); "
            "caching in memory only until it works again"
        )
        self._checked = time.monotonic()

    def close(self) -> None:
        self._close_disk()

    def _read(self, key: str) -> dict | None:
        entry = self._mem.get(key)
        if entry is not None:
            self._mem.move_to_end(key)
            return entry
        self._recheck()
        if self.disk is None:
            return None
        try:
            entry = self.disk.get(key)
        except Exception as exc:  # a damaged cache must not break the API
            self._disk_failed("read", exc)
            return None
        if not (isinstance(entry, dict) and "exp" in entry):
            return None
        self._remember(key, entry)
        return entry

    def _remember(self, key: str, entry: dict) -> None:
        self._mem[key] = entry
        self._mem.move_to_end(key)
        while len(self._mem) > self._mem_items:
            self._mem.popitem(last=False)

    def _write(self, key: str, entry: dict) -> None:
        self._remember(key, entry)
        self._recheck()
        if self.disk is None:
            return
        try:
            self.disk.set(key, entry)
        except Exception as exc:  # full, read-only or damaged: keep serving
            self._disk_failed("write", exc)
            return
        if self.degraded:
            log.warning("disk cache in %s works again", self.directory)
            self.degraded = ""

    async def get(
        self,
        key: str,
        fetch: Callable[[], Any],
        ttl_of: Callable[[Any], float],
        *,
        executor: Executor,
        timeout_s: float,
    ) -> Cached:
        """The value for `key`: cached, or fetched by `fetch` (blocking) on `executor`."""
        now = time.time()
        entry = self._read(key)
        if entry is not None and entry["exp"] > now:
            return self._from_entry(key, entry, stale=False)
        backoff = self._backoff.get(key)
        if backoff is not None and backoff[0] > now:
            if entry is not None and "v" in entry:
                return self._from_entry(key, entry, stale=True)
            raise backoff[1]
        inflight = self._inflight.get(key)
        if inflight is not None:
            return await asyncio.shield(inflight)
        late = self._late.get(key)
        if late is not None and not late.done():
            # A fetch that outran its deadline is still running and will fill the cache.
            if entry is not None and "v" in entry:
                return self._from_entry(key, entry, stale=True)
            raise UpstreamTimeout("still fetching from W&B; try again shortly", retry_after_s=2)
        future: asyncio.Future[Cached] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[key] = future
        try:
            result = await self._fetch(key, entry, fetch, ttl_of, executor, timeout_s)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._inflight.pop(key, None)

    async def _fetch(self, key, entry, fetch, ttl_of, executor, timeout_s) -> Cached:
        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(executor, fetch)
        try:
            value = await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            # The client gets its answer now; the fetch goes on and, when it succeeds,
            # fills the cache, so a slow source (a long run's history) still gets cached.
            self._late[key] = task
            task.add_done_callback(lambda f: self._late_result(key, f, ttl_of))
            return self._failed(key, entry, UpstreamTimeout("W&B did not answer in time"))
        except NotFound as err:
            self._write(key, {"nf": err.message, "exp": time.time() + self.ttl_not_found_s})
            raise
        except ApiError as err:
            return self._failed(key, entry, err)
        return self._store(key, value, ttl_of)

    def _store(self, key: str, value: Any, ttl_of: Callable[[Any], float]) -> Cached:
        now = time.time()
        self._backoff.pop(key, None)
        degraded.clear("wandb", "W&B answers again")
        exp = now + ttl_of(value)
        self._write(key, {"v": value, "t": now, "exp": exp})
        return Cached(value, _utc(now), False, exp)

    def _failed(self, key: str, entry: dict | None, err: ApiError) -> Cached:
        """Stale data when there is some (backing off meanwhile), else the error."""
        wait = max(self.error_backoff_s, err.retry_after_s or 0)
        self._backoff[key] = (time.time() + wait, err)
        degraded.report(
            "wandb",
            f"W&B failing ({err.code}): serving cached data marked stale where there is some, "
            f"else HTTP {err.status}; each request's key is retried after {wait:g} s",
        )
        if entry is not None and "v" in entry:
            return self._from_entry(key, entry, stale=True)
        raise err

    def _late_result(self, key: str, task: asyncio.Future, ttl_of) -> None:
        if self._late.get(key) is task:
            del self._late[key]
        if task.cancelled() or task.exception() is not None:
            return  # its error was already answered as a timeout
        self._store(key, task.result(), ttl_of)
        log.info("late fetch of %s cached", key)

    def _from_entry(self, key: str, entry: dict, *, stale: bool) -> Cached:
        if "nf" in entry:
            raise NotFound(entry["nf"])
        return Cached(entry["v"], _utc(entry["t"]), stale, None if stale else entry["exp"])


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
