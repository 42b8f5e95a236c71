"""Encoded JSON bodies built from a run's columns, kept per records version.

A 1,000-row history costs about 20 ms of CPU to pick, encode and gzip; the rows only change
when the run's records do, so the finished bytes are kept under a key that holds the
columns' `version` (a new one per refresh of the records): a cached body can never be
stale, and a new window makes a new key. Bounded by total bytes (least recently used
dropped first).
"""

from __future__ import annotations

import gzip
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

GZIP_MIN = 4096  # smaller bodies go uncompressed
# Level 1: a 1 MB history compresses in ~6 ms to 250 KB; level 6 takes ~4x as long for 20 %
# less. The body is compressed once per records version, on its first gzip request.
GZIP_LEVEL = 1


@dataclass
class Body:
    """One encoded answer: `raw` JSON bytes and, once asked for, their gzip (None before)."""

    raw: bytes
    gz: bytes | None = None

    def gzipped(self) -> bytes:
        """The gzip of `raw` (computed once)."""
        if self.gz is None:
            self.gz = gzip.compress(self.raw, compresslevel=GZIP_LEVEL)
        return self.gz

    @property
    def size(self) -> int:
        return len(self.raw) + (len(self.gz) if self.gz is not None else 0)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def encode(payload: Any) -> bytes:
    """`payload` as JSON bytes (orjson; datetimes as ISO 8601 with `Z`). Raises
    orjson.JSONEncodeError for a value JSON cannot carry (an int past 64 bits)."""
    return orjson.dumps(payload, default=_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


# What an entry costs beyond its bytes (the Body, its key tuple, the LRU's node), counted
# so that many tiny bodies (a history per distinct `keys`/`max_points` query) stay within
# the cap too: measured ~470 bytes for a key of short strings, plus the key's own strings.
ENTRY_OVERHEAD = 512


def _key_bytes(key: Hashable) -> int:
    parts = key if isinstance(key, tuple) else (key,)
    total = sys.getsizeof(key)
    for part in parts:
        total += sys.getsizeof(part)
        if isinstance(part, tuple):
            total += sum(sys.getsizeof(x) for x in part)
    return total


@dataclass
class _Flight:
    """One build in progress: its waiters get its body or its error."""

    done: threading.Event = field(default_factory=threading.Event)
    body: Body | None = None
    error: BaseException | None = None
    waiters: int = 0


class BodyCache:
    """Bodies by key, at most `max_bytes` in all, each entry counted with its key and
    `ENTRY_OVERHEAD` (a body larger than a quarter of that is not kept). Thread-safe:
    bodies are built in worker threads."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._items: OrderedDict[Hashable, tuple[Body, int]] = OrderedDict()  # body, counted
        self._lock = threading.Lock()
        self._max = max_bytes
        self._bytes = 0
        self._flights: dict[Hashable, _Flight] = {}
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        """Bytes counted for the kept entries (bodies, keys and overhead)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Body | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return hit[0]

    def waiting(self, key: Hashable) -> int:
        """Callers waiting for the build of `key` in progress (0 when none is)."""
        with self._lock:
            flight = self._flights.get(key)
            return flight.waiters if flight is not None else 0

    def get_or_build(self, key: Hashable, build: Callable[[], Body]) -> Body:
        """The body under `key`, else `build()`'s, kept. Concurrent callers for one key
        build it once: the others wait for that build and get its body, or its exception
        (a live run polled by several pages, or a request arriving while the warm-up builds
        the same body), also when the body is too large to keep."""
        body = self.get(key)
        if body is not None:
            return body
        with self._lock:
            hit = self._items.get(key)  # (kept between the miss and now)
            if hit is not None:
                return hit[0]
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = _Flight()
            else:
                flight.waiters += 1
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.body is not None
            return flight.body
        try:
            body = build()
            flight.body = body
            self.put(key, body)  # (kept before a newcomer could miss it again)
            return body
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def put(self, key: Hashable, body: Body) -> None:
        """Keep `body` (gzip it first when it will be wanted: its size counts)."""
        counted = body.size + _key_bytes(key) + ENTRY_OVERHEAD
        if counted > self._max // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (body, counted)
            self._bytes += counted
            self._evict()

    def resize(self, key: Hashable) -> None:
        """Count again the entry under `key` (its gzip was added after `put`); idempotent,
        so callers gzipping one body at the same time cannot count it twice."""
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return
            body, old = hit
            counted = body.size + _key_bytes(key) + ENTRY_OVERHEAD
            self._items[key] = (body, counted)
            self._bytes += counted - old
            self._evict()

    def _evict(self) -> None:
        while self._bytes > self._max and self._items:
            _, (_, counted) = self._items.popitem(last=False)
            self._bytes -= counted


store = BodyCache()
