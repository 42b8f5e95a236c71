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
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    ino: int
    offset: int  # bytes of complete lines consumed
    stamp: tuple[int, int]  # (size, mtime_ns) when last refreshed
    cols: Columns


class ColumnStore:
    """Columns of local runs' windows.jsonl, by path (an LRU of `capacity` runs).

    One lock per file: a long run being parsed (about 1 s for 10,000 windows) holds back
    only requests for that run, and a second request for it waits for the first's
    columns instead of parsing again. `builds` / `appends` count whole-file parses and
    incremental reads (a public metric: tests and the warm-up check them)."""

    def __init__(self, capacity: int = 16) -> None:
        self._items: OrderedDict[str, _FileColumns] = OrderedDict()
        self._lock = threading.Lock()  # guards _items and _file_locks
        self._file_locks: dict[str, threading.Lock] = {}
        self._capacity = capacity
        self.builds = 0
        self.appends = 0

    def cached(self, path: Path) -> bool:
        """True when the columns of `path` are held and match the file as it is now."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        with self._lock:
            hit = self._items.get(str(path))
        return hit is not None and hit.ino == st.st_ino and hit.stamp == _stamp(st)

    def get(self, path: Path) -> Columns:
        """The columns of windows.jsonl at `path` (empty when there is no such file).

        Raises ValueError for a corrupt line that is not the last (a torn last line, the
        trainer mid-write or crashed, is not read until it is complete).
        """
        key = str(path)
        with self._lock:
            file_lock = self._file_locks.setdefault(key, threading.Lock())
        with file_lock:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                return Columns.from_rows([])
            stamp = _stamp(st)
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    self._items.move_to_end(key)
                    if hit.stamp == stamp and hit.ino == st.st_ino:
                        return hit.cols
            if hit is not None and _continues(path, st, hit.ino, hit.offset):
                rows, consumed = _read_lines(path, hit.offset)
                cols = _copy(hit.cols)
                cols.append(rows)
                entry = _FileColumns(st.st_ino, hit.offset + consumed, stamp, cols)
                self.appends += 1
            else:
                rows, consumed = _read_lines(path, 0)
                entry = _FileColumns(st.st_ino, consumed, stamp, Columns.from_rows(rows))
                self.builds += 1
            with self._lock:
                self._items[key] = entry
                self._items.move_to_end(key)
                while len(self._items) > self._capacity:
                    old, _ = self._items.popitem(last=False)
                    self._file_locks.pop(old, None)
            return entry.cols


def _stamp(st: os.stat_result) -> tuple[int, int]:
    return (st.st_size, st.st_mtime_ns)


def _continues(path: Path, st: os.stat_result, ino: int, offset: int) -> bool:
    """True when the file is the one read up to `offset` plus appended lines: same inode,
    not shorter, and a line end just before `offset` (a rewrite in place would break it)."""
    if st.st_ino != ino or st.st_size < offset:
        return False
    if offset == 0:
        return True
    with records.open_regular(path) as f:
        f.seek(offset - 1)
        return f.read(1) == b"\n"


def _copy(cols: Columns) -> Columns:
    # Readers may hold the old object: appends go to a new one (arrays are never mutated).
    out = Columns(cols.n, dict(cols.num), {k: list(v) for k, v in cols.text.items()})
    lists = cols.__dict__.get("_lists")
    if lists:  # (copied: the old object's lists stay as they are)
        out.__dict__["_lists"] = {k: list(v) for k, v in lists.items() if k not in cols.text}
    return out


def _loads(line: bytes) -> Any:
    # orjson is several times faster; json also reads NaN/Infinity tokens (made null later).
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return records.loads(line)  # (too deep or too long an integer: ValueError or null)


def _read_lines(path: Path, offset: int) -> tuple[list[dict], int]:
    """API-shaped rows of the complete lines from byte `offset`, and the bytes consumed."""
    with records.open_regular(path) as f:
        f.seek(offset)
        data = f.read()
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
    return [r for r in rows if r["window_id"] is not None], end


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
    ino: int
    offset: int
    stamp: tuple[int, int]
    spans: dict[int, list[tuple[int, int]]]  # window_id -> [(start, end)] byte spans of lines


class UpdateIndexStore:
    """Byte spans of each window's lines in updates.jsonl, kept per file and extended as
    lines are appended, so a window's updates are read without parsing the whole file."""

    def __init__(self, capacity: int = 16) -> None:
        self._items: OrderedDict[str, _UpdatesIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def rows(self, path: Path, window_id: int) -> list[dict]:
        """The update rows of `window_id`, in file order ([] when there is no file).
        Raises ValueError for a corrupt line of that window."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return []
        key = str(path)
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            entry = self._items.get(key)
            if entry is None or not _continues(path, st, entry.ino, entry.offset):
                entry = _UpdatesIndex(st.st_ino, 0, (0, 0), {})
            if entry.stamp != stamp:
                _index_lines(path, entry)
                entry.stamp = stamp
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
            spans = list(entry.spans.get(int(window_id), ()))
        out = []
        with records.open_regular(path) as f:
            for start, end in spans:
                f.seek(start)
                row = _loads(f.read(end - start))
                if isinstance(row, dict) and row.get("window_id") == window_id:
                    out.append(row)
        return out


def _index_lines(path: Path, entry: _UpdatesIndex) -> None:
    # Index the complete lines after entry.offset (a torn last line waits for its newline).
    with records.open_regular(path) as f:
        f.seek(entry.offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    pos = entry.offset
    for line in data[:end].split(b"\n")[:-1]:
        m = _WINDOW_ID.search(line)
        if m is not None:
            entry.spans.setdefault(int(m.group(1)), []).append((pos, pos + len(line)))
        pos += len(line) + 1
    entry.offset += end


update_index = UpdateIndexStore()
