"""A run's window rows in columnar form (one array per key), kept across requests.

The history, its downsampling and the CSV export read these columns instead of re-parsing
windows.jsonl per request. A local run's columns are refreshed from the file's (inode,
size, mtime): an append parses only the new complete lines; any other change rebuilds.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson

from analytics_service import records, views
from analytics_service.keys import INT_KEYS, STR_KEYS, WINDOW_KEYS

NUMERIC_KEYS: tuple[str, ...] = tuple(k for k in WINDOW_KEYS if k not in STR_KEYS)
_versions = itertools.count(1)


@dataclass
class Columns:
    """Window rows by key, sorted by window_id.

    `num[key]` is float64[n] (NaN where null) for every numeric window key; `text[key]` a
    list of n str-or-None for the string keys (`timestamp`).
    """

    n: int = 0
    num: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, list[str | None]] = field(default_factory=dict)
    # When these rows were last read from their source (set by the stores).
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Unique per content: a new object, or an append, takes a new one. Encoded bodies
    # built from these rows are cached under it (routes_data), so they never go stale.
    version: int = field(default_factory=lambda: next(_versions))

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Columns:
        """Columns of API-shaped window rows (`views.window_row`), in any order."""
        cols = cls(num={k: np.empty(0) for k in NUMERIC_KEYS}, text={k: [] for k in STR_KEYS})
        cols.append(rows)
        return cols

    def append(self, rows: list[dict]) -> None:
        """Add API-shaped rows; keeps the columns sorted by window_id."""
        if not rows:
            return
        for k in NUMERIC_KEYS:
            new = np.array([r.get(k) for r in rows], dtype=np.float64)
            self.num[k] = np.concatenate([self.num[k], new]) if self.n else new
        for k in STR_KEYS:
            self.text[k].extend(r.get(k) for r in rows)
        old_n = self.n
        self.n += len(rows)
        self.version = next(_versions)
        self.__dict__.pop("_mono", None)
        lists = self.__dict__.pop("_lists", None)
        wid = self.num["window_id"]
        if self.n > 1 and not bool(np.all(wid[1:] >= wid[:-1])):
            order = np.argsort(wid, kind="stable")
            self.num = {k: v[order] for k, v in self.num.items()}
            self.text = {k: [v[i] for i in order] for k, v in self.text.items()}
        elif lists:
            # Appended in order (a live run): extend the Python values already built
            # instead of converting every column again on the next request.
            for k, vals in lists.items():
                if k in self.text:
                    lists[k] = self.text[k]  # (the text columns are their own values)
                else:
                    vals.extend(_pylist(k, self.num[k][old_n:]))
            self.__dict__["_lists"] = lists

    def is_monotonic(self, key: str) -> bool:
        """True when column `key` has no missing value and never decreases (memoised)."""
        memo = self.__dict__.setdefault("_mono", {})
        if key not in memo:
            a = self.num[key]
            memo[key] = bool(not np.isnan(a).any() and np.all(a[1:] >= a[:-1]))
        return memo[key]

    def values(self, key: str, idx: np.ndarray | None = None) -> list[Any]:
        """The column `key` (at `idx`) as JSON-ready Python values (null for missing)."""
        col = self._list(key)
        return list(col) if idx is None else [col[i] for i in idx.tolist()]

    def _list(self, key: str) -> list[Any]:
        # Python values per column, built once per refresh: a request only indexes them.
        memo = self.__dict__.setdefault("_lists", {})
        if key not in memo:
            memo[key] = self.text[key] if key in self.text else _pylist(key, self.num[key])
        return memo[key]

    def rows(self, keys: list[str], idx: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Rows holding exactly `keys` (at the positions `idx`, default all)."""
        cols = [self._list(k) for k in keys]
        if idx is not None:
            positions = idx.tolist()
            cols = [[c[i] for i in positions] for c in cols]
        # (dict(zip()) over columns picked first: about 2.5x faster than a comprehension)
        return [dict(zip(keys, t, strict=True)) for t in zip(*cols, strict=True)]


def _pylist(key: str, arr: np.ndarray) -> list[Any]:
    """The values of column `key` as JSON-ready Python values (ints for integer keys, None
    where missing)."""
    vals = arr.tolist()
    nan = np.isnan(arr).tolist()
    if key in INT_KEYS:
        return [None if m else int(v) for v, m in zip(vals, nan, strict=True)]
    if any(nan):
        return [None if m else v for v, m in zip(vals, nan, strict=True)]
    return vals


def _minmax_candidates(lo: np.ndarray, hi: np.ndarray, buckets: int) -> np.ndarray:
    """Row positions of each key's min and max in each of `buckets` equal index buckets.

    `lo`/`hi` are float64[K, n]: the values with +inf (lo) / -inf (hi) where missing; a
    bucket where a key has no value adds none.
    """
    k, n = lo.shape
    width = math.ceil(n / buckets)
    nb = math.ceil(n / width)
    pad = nb * width - n
    if pad:
        lo = np.pad(lo, ((0, 0), (0, pad)), constant_values=np.inf)
        hi = np.pad(hi, ((0, 0), (0, pad)), constant_values=-np.inf)
    lo3, hi3 = lo.reshape(k, nb, width), hi.reshape(k, nb, width)
    base = (np.arange(nb) * width)[None, :]
    amin, amax = lo3.argmin(axis=2), hi3.argmax(axis=2)
    has = np.take_along_axis(lo3, amin[..., None], axis=2)[..., 0] < np.inf
    return np.concatenate([(amin + base)[has], (amax + base)[has]])


def minmax_downsample(
    cols: Columns, keys: list[str], max_points: int
) -> tuple[np.ndarray, int | None]:
    """Positions of the rows to keep and the bucket count (None: every row kept; 0: too
    few points for a bucket per key, so evenly spaced rows).

    Keeps the first and last rows and, for each of `keys` that is numeric and not
    non-decreasing (the x axes window_id, env_steps, wall_time_s add nothing), the rows of
    its min and max in every bucket. The bucket count starts at one that cannot exceed
    `max_points` (max_points / (2 keys)) and grows by a few proportional steps while the
    kept rows stay within `max_points`.
    """
    n = cols.n
    if n <= max_points:
        return np.arange(n), None
    series = []
    for k in keys:
        a = cols.num.get(k)
        if a is None or cols.is_monotonic(k):
            continue  # a complete non-decreasing series: the first and last rows bound it
        series.append(a)
    ends = np.array([0, n - 1])
    budget = max_points - 2
    if not series or len(series) * 2 > budget:
        # Too few points for one bucket per key: evenly spaced rows (bucket count 0).
        idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
        return idx, 0
    mat = np.stack(series)
    missing = np.isnan(mat)
    lo = np.where(missing, np.inf, mat)
    hi = np.where(missing, -np.inf, mat)
    buckets = max(1, min(n, budget // (2 * len(series))))  # never over the budget
    idx = np.unique(np.concatenate([ends, _minmax_candidates(lo, hi, buckets)]))
    for _ in range(3):
        # Kept rows grow about linearly with the bucket count (keys share some extremes).
        grown = min(n, int(buckets * budget / max(idx.size - 2, 1) * 0.97))
        if grown <= buckets:
            break
        more = np.unique(np.concatenate([ends, _minmax_candidates(lo, hi, grown)]))
        if more.size > max_points:
            break
        buckets, idx = grown, more
    width = math.ceil(n / buckets)
    return idx.astype(np.int64), math.ceil(n / width)


# ---- local runs: columns kept per windows.jsonl, refreshed incrementally ------------------


@dataclass
class _FileColumns:
    offset: int  # bytes of complete lines consumed
    crc: int  # zlib.crc32 of those bytes: what an "append" must leave unchanged
    stamp: tuple[int, int, int, int]  # records.file_stamp when last refreshed
    trusted: bool  # the stamp had settled when read: an equal stamp is the same bytes
    cols: Columns


class ColumnStore:
    """Columns of local runs' windows.jsonl, by path (an LRU of `capacity` runs).

    One lock per file: a long run being parsed (about 1 s for 10,000 windows) holds back
    only requests for that run, and a second request for it waits for the first's
    columns instead of parsing again. `builds` / `appends` count whole-file parses and
    incremental reads (a public metric: tests and the warm-up check them).

    A file whose stamp changed is re-read only from the consumed offset when the bytes
    before it are unchanged (their CRC-32, about 7 ms per 10 MB): a rewrite in place,
    a truncation, a replacement that reused the inode or kept the size and mtime
    rebuilds. An equal stamp younger than a clock tick is checked the same way."""

    def __init__(self, capacity: int = 16) -> None:
        self._items: OrderedDict[str, _FileColumns] = OrderedDict()
        self._lock = threading.Lock()  # guards _items and _file_locks
        self._file_locks: dict[str, threading.Lock] = {}
        self._damaged: dict[str, tuple[tuple[int, int, int, int], str]] = {}  # stamp, error
        self._capacity = capacity
        self.builds = 0
        self.appends = 0

    def cached(self, path: Path) -> bool:
        """True when the columns of `path` are held and surely match the file as it is."""
        try:
            stamp = records.file_stamp(path)
        except OSError:
            return False
        with self._lock:
            hit = self._items.get(str(path))
        return hit is not None and hit.trusted and hit.stamp == stamp

    def get(self, path: Path) -> Columns:
        """The columns of windows.jsonl at `path` (empty when there is no such file).

        Raises ValueError for a corrupt line that is not the last (a torn last line, the
        trainer mid-write or crashed, is not read until it is complete), OSError when the
        file cannot be read.
        """
        key = str(path)
        with self._lock:
            file_lock = self._file_locks.setdefault(key, threading.Lock())
        with file_lock:
            try:
                stamp = records.file_stamp(path)
            except OSError:
                stamp = None  # (opened below: its error is the answer)
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    self._items.move_to_end(key)
                    if hit.trusted and hit.stamp == stamp:
                        return hit.cols
                damaged = self._damaged.get(key)
            if damaged is not None and damaged[0] == stamp:
                raise ValueError(damaged[1])  # (unchanged since: not parsed again)
            try:
                with records.open_regular(path) as f:
                    entry = self._refresh(f, hit)
            except FileNotFoundError:
                return Columns.from_rows([])
            except ValueError as exc:
                # A damaged file is remembered as such until it changes: a page polling
                # a damaged long run must not cost a parse per request.
                if stamp is not None and records.is_settled_stamp(stamp):
                    with self._lock:
                        self._damaged[key] = (stamp, str(exc))
                        while len(self._damaged) > self._capacity:
                            self._damaged.pop(next(iter(self._damaged)))
                raise
            with self._lock:
                self._damaged.pop(key, None)
                self._items[key] = entry
                self._items.move_to_end(key)
                while len(self._items) > self._capacity:
                    old, _ = self._items.popitem(last=False)
                    self._file_locks.pop(old, None)
            return entry.cols

    def _refresh(self, f: BinaryIO, hit: _FileColumns | None) -> _FileColumns:
        st = os.fstat(f.fileno())  # (of the file read, not of whatever the path names now)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        trusted = records.is_settled(st)
        if hit is not None and _same_prefix(f, st.st_size, hit.offset, hit.crc):
            rows, consumed, data = _parse_lines(f.read())  # (f is at hit.offset)
            crc = zlib.crc32(data[:consumed], hit.crc)
            cols = hit.cols
            if rows:
                cols = _copy(hit.cols)
                cols.append(rows)
                self.appends += 1
            return _FileColumns(hit.offset + consumed, crc, stamp, trusted, cols)
        f.seek(0)
        rows, consumed, data = _parse_lines(f.read())
        self.builds += 1
        crc = zlib.crc32(data[:consumed])
        return _FileColumns(consumed, crc, stamp, trusted, Columns.from_rows(rows))


_CHUNK = 1 << 20


def _same_prefix(f: BinaryIO, size: int, offset: int, crc: int) -> bool:
    """True when the open file's first `offset` bytes end a line and have CRC-32 `crc`,
    leaving `f` at `offset` (a file that only had lines appended since they were read)."""
    if size < offset:
        return False
    f.seek(0)
    got, left = 0, offset
    last = b"\n"
    while left:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            return False
        got = zlib.crc32(chunk, got)
        last = chunk[-1:]
        left -= len(chunk)
    return got == crc and last == b"\n"


def _copy(cols: Columns) -> Columns:
    # Readers may hold the old object: appends go to a new one (arrays are never mutated).
    out = Columns(cols.n, dict(cols.num), {k: list(v) for k, v in cols.text.items()})
    # dict() first, in one step: a request may be adding a key to the old object's memo
    # right now (iterating it directly raised "dictionary changed size during iteration")
    lists = dict(cols.__dict__.get("_lists") or {})
    if lists:  # (copied: the old object's lists stay as they are)
        out.__dict__["_lists"] = {k: list(v) for k, v in lists.items() if k not in cols.text}
    return out


def _loads(line: bytes) -> Any:
    # orjson is several times faster; json also reads NaN/Infinity tokens (made null later).
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return records.loads(line)  # (too deep or too long an integer: ValueError or null)


def _parse_lines(data: bytes) -> tuple[list[dict], int, bytes]:
    """API-shaped rows of the complete lines of `data`, the bytes consumed, and `data`."""
    end = data.rfind(b"\n") + 1  # a last line without its newline is still being written
    rows = []
    for line in data[:end].split(b"\n"):
        if not line.strip():
            continue
        row = _loads(line)
        if isinstance(row, dict):
            rows.append(views.window_row(row))
    tail = data[end:]
    if tail.strip():
        # A torn tail is skipped; but if it parses, it is a complete last line lacking "\n".
        try:
            row = records.loads(tail)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append(views.window_row(row))
            end = len(data)
    # A row without an integral window_id cannot be addressed or charted (the runs list
    # and W&B leave such rows out too).
    return [r for r in rows if r["window_id"] is not None], end, data


store = ColumnStore()


class RowsColumns:
    """Columns of W&B window rows, by (run key, fetched_at): built once per fetch."""

    def __init__(self, capacity: int = 16) -> None:
        self._items: OrderedDict[Any, Columns] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def get(self, key: Any, rows: list[dict]) -> Columns:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        cols = Columns.from_rows(rows)
        with self._lock:
            self._items[key] = cols
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return cols


rows_store = RowsColumns()


# ---- local runs: updates.jsonl indexed by window, read one window at a time ---------------

# (at most 18 digits: a longer id is no addressable window, and int() of one over 4300
# digits would raise)
_WINDOW_ID = re.compile(rb'"window_id"\s*:\s*(\d{1,18})(?!\d)')


@dataclass
class _UpdatesIndex:
    offset: int  # bytes of complete lines indexed
    crc: int  # their CRC-32 (see ColumnStore)
    stamp: tuple[int, int, int, int]
    trusted: bool
    spans: dict[int, list[tuple[int, int]]]  # window_id -> [(start, end)] byte spans of lines


class UpdateIndexStore:
    """Byte spans of each window's lines in updates.jsonl, kept per file and extended as
    lines are appended, so a window's updates are read without parsing the whole file.
    A file changed other than by appending lines is indexed anew (as `ColumnStore`)."""

    def __init__(self, capacity: int = 16) -> None:
        self._items: OrderedDict[str, _UpdatesIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def rows(self, path: Path, window_id: int) -> list[dict]:
        """The update rows of `window_id`, in file order ([] when there is no file).
        Raises ValueError for a corrupt line of that window, OSError for an unreadable file."""
        try:
            with records.open_regular(path) as f:
                return self._rows(f, str(path), window_id)
        except FileNotFoundError:
            return []

    def _rows(self, f: BinaryIO, key: str, window_id: int) -> list[dict]:
        st = os.fstat(f.fileno())
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        with self._lock:
            entry = self._items.get(key)
            if entry is None or not (entry.trusted and entry.stamp == stamp):
                entry = _index(f, st, entry)
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
            spans = list(entry.spans.get(int(window_id), ()))
        out = []
        for start, end in spans:  # (from the file indexed, not what the path names now)
            f.seek(start)
            row = _loads(f.read(end - start))
            if isinstance(row, dict) and row.get("window_id") == window_id:
                out.append(row)
        return out


def _index(f: BinaryIO, st: os.stat_result, entry: _UpdatesIndex | None) -> _UpdatesIndex:
    # Index the complete lines after what `entry` holds when the file only grew by lines,
    # else all of them (a torn last line waits for its newline).
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    trusted = records.is_settled(st)
    if entry is not None and _same_prefix(f, st.st_size, entry.offset, entry.crc):
        spans = {w: list(v) for w, v in entry.spans.items()}
        offset, crc = entry.offset, entry.crc
    else:
        f.seek(0)
        spans, offset, crc = {}, 0, 0
    data = f.read()
    end = data.rfind(b"\n") + 1
    pos = offset
    for line in data[:end].split(b"\n")[:-1]:
        m = _WINDOW_ID.search(line)
        if m is not None:
            spans.setdefault(int(m.group(1)), []).append((pos, pos + len(line)))
        pos += len(line) + 1
    return _UpdatesIndex(offset + end, zlib.crc32(data[:end], crc), stamp, trusted, spans)


update_index = UpdateIndexStore()
