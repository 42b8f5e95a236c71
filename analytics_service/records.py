"""Reading run records (docs/RUN_RECORDS.md) for the local source.

JSON-lines parsing is `ppo.records.read_jsonl`, the project's one reader (a torn last line
ignored, a corrupt earlier line an error), given a more tolerant line parser: an integer
literal too long for Python to parse (over 4300 digits) reads as null instead of failing
the whole file, and a line that is not an object is dropped. Parsed files are
memoised by (path, mtime, size), so a hot endpoint does not re-parse an unchanged file.
Run directories are found by validated id only, so a request cannot name another path.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from analytics_service.keys import RUN_ID_PATTERN
from analytics_service.views import as_int
from ppo.records import read_jsonl

log = logging.getLogger("analytics_service.records")
_RUN_ID = re.compile(RUN_ID_PATTERN)


_RACY_NS = 2_000_000_000  # file times are coarse (a kernel tick): trust no newer stamp


class _FileMemo:
    """A small LRU of parsed files keyed by path and a stamp: (inode, size, mtime, ctime).

    The inode catches a file replaced by rename, the ctime a rewrite that restored the old
    mtime (`cp -p`, `rsync -t`). A stamp younger than `_RACY_NS` when read is not trusted
    (as git's "racily clean" entries): a same-size rewrite within one clock tick keeps
    every field equal, so such an entry is parsed again until its file has settled."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: OrderedDict[str, tuple[tuple[int, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def get(self, path: Path, parse) -> Any:
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        key = str(path)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == stamp:
                self._items.move_to_end(key)
                if isinstance(hit[1], _Damaged):
                    raise ValueError(hit[1].reason)
                return hit[1]
        try:
            value = parse(path)  # (read after the stat: never older than its stamp)
        except ValueError as exc:
            # A damaged file is kept as damaged until it changes: a page polling a damaged
            # long run must not cost a parse per request.
            value = exc
        settled = is_settled(st)
        with self._lock:
            if settled:
                kept = _Damaged(str(value)) if isinstance(value, ValueError) else value
                self._items[key] = (stamp, kept)
                self._items.move_to_end(key)
            else:
                self._items.pop(key, None)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        if isinstance(value, ValueError):
            raise value
        return value


class _Damaged:
    def __init__(self, reason: str) -> None:
        self.reason = reason


_memo = _FileMemo()

# Files opened for reading through `open_regular` (every record read goes through it): a
# public count, so tests can show a hot path reads no file without timing it.
reads = 0


def is_settled(st: os.stat_result) -> bool:
    """True when a file's stamp can be trusted to change with its content (its times are
    older than a clock tick's worth of `_RACY_NS`)."""
    return time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS


def is_settled_stamp(stamp: tuple[int, int, int, int]) -> bool:
    """`is_settled` of a `file_stamp`."""
    return time.time_ns() - max(stamp[2], stamp[3]) > _RACY_NS


def file_stamp(path: str | Path) -> tuple[int, int, int, int] | None:
    """(inode, size, mtime, ctime) of `path` (None when it does not exist), and nothing
    read: what a memo of a parsed file is keyed by."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _parse_int(text: str) -> int | None:
    # Python refuses int literals over 4300 digits; such a value is null, not a bad file.
    return int(text) if len(text) <= 4000 else None


def loads(data: bytes | str) -> Any:
    """A record's JSON: NaN/Infinity read as floats, an integer past Python's digit limit
    as null, nesting too deep for the parser a ValueError (never a RecursionError)."""
    try:
        return json.loads(data, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


@contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """The regular file at `path`, opened for binary reading. Anything else put in a
    record's place (a FIFO, a device such as /dev/zero, a directory) raises OSError instead
    of blocking or reading without end; the check is on the opened file, so a file swapped
    after a stat cannot slip through."""
    global reads
    reads += 1
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{path.name} is not a regular file")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file at `path` (at most `limit` of them); see `open_regular`."""
    with open_regular(path) as f:
        return f.read() if limit is None else f.read(limit)


def _parse_json(path: Path) -> Any:
    return loads(read_regular(path))


def _parse_object(path: Path) -> dict:
    value = _parse_json(path)
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} holds no JSON object")
    return value


def _parse_jsonl(path: Path) -> list[dict]:
    rows = read_jsonl(path, loads=loads, read=read_regular)
    # A line that is valid JSON but not an object is no row (and no reason to fail the run).
    return [row for row in rows if isinstance(row, dict)]


def is_run_id(run_id: str) -> bool:
    """True when `run_id` is a valid run id (and so a safe directory name)."""
    return bool(_RUN_ID.fullmatch(run_id))


def run_dir(runs_dir: Path, run_id: str) -> Path | None:
    """The run's directory, or None when there is no such run (ids are validated first)."""
    if not is_run_id(run_id):
        return None
    path = runs_dir / run_id
    return path if (path / "run.json").is_file() else None


def list_run_ids(runs_dir: Path) -> list[str]:
    """Ids of the runs under `runs_dir` (any order); none when it does not exist. An entry
    that cannot be checked (a symlink loop, no permission) is no run. Raises OSError when
    `runs_dir` itself cannot be read (not a directory, no permission)."""
    try:
        entries = list(os.scandir(runs_dir))
    except FileNotFoundError:
        return []
    return [e.name for e in entries if is_run_id(e.name) and _is_run_entry(e)]


def _is_run_entry(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir() and os.path.isfile(os.path.join(entry.path, "run.json"))
    except OSError:  # ELOOP, EACCES: os.DirEntry.is_dir raises those
        return False


def read_run(path: Path) -> dict:
    """run.json of the run at `path`."""
    return _memo.get(path / "run.json", _parse_object)


def read_windows(path: Path) -> list[dict]:
    """All window rows, in file order (a torn last line ignored)."""
    file = path / "windows.jsonl"
    return _memo.get(file, _parse_jsonl) if file.is_file() else []


def read_updates(path: Path, window_id: int | None = None) -> list[dict]:
    """Update rows, all or those of one window."""
    file = path / "updates.jsonl"
    rows = _memo.get(file, _parse_jsonl) if file.is_file() else []
    if window_id is None:
        return rows
    return [r for r in rows if _int(r.get("window_id")) == window_id]


def _int(value: Any) -> int | None:
    return as_int(value)


def read_eval(path: Path, window_id: int) -> dict | None:
    """eval/<window_id>.json, or None when that window has no evaluation (or the file holds
    no JSON object)."""
    file = path / "eval" / f"{int(window_id)}.json"
    record = _memo.get(file, _parse_json) if file.is_file() else None
    return record if isinstance(record, dict) else None
