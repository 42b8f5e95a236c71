"""Run records on local disk (format: docs/RUN_RECORDS.md): writer and readers.

Lines are appended in one write of the whole line, then flushed and fsynced; run.json and
eval files are replaced atomically (temp file, fsync, rename). Readers skip a torn last line.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# A few hundred KiB kept free in each run dir while it trains: on a full disk the trainer
# deletes it so its last run.json (state failed, "no space left on ...") still fits.
RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 256 * 1024


def is_disk_full(e: BaseException) -> bool:
    """Whether `e` is a full disk or quota (ENOSPC, EDQUOT)."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def utc_now() -> str:
    """ISO 8601 UTC with a Z suffix, millisecond precision."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(x: Any) -> Any:
    """Non-finite floats -> None, numpy scalars -> Python, recursively."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str | bytes):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def dumps(obj: Any) -> str:
    """Strict JSON (no NaN) of obj with non-finite numbers as null."""
    return json.dumps(_clean(obj), allow_nan=False, separators=(",", ":"))


def write_json_atomic(path: Path, obj: Any) -> None:
    """Replace `path` with obj as JSON: temp file in the same dir, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(_clean(obj), allow_nan=False, indent=1))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows, one line each, in a single write; flush and fsync."""
    if not rows:
        return
    data = "".join(dumps(r) + "\n" for r in rows)
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(
    path: Path,
    loads: Callable[[bytes], Any] = json.loads,
    read: Callable[[Path], bytes] = Path.read_bytes,
) -> list[dict[str, Any]]:
    """Rows of a UTF-8 JSON-lines file, in file order; [] when the file does not exist.

    The project's one reader (the trainer's readers and `analytics_service.records` use it;
    the service passes a more tolerant `loads`, which must raise `ValueError` on a bad line,
    and a `read` that refuses files that are not regular: a FIFO would block).
    Rule: a crash mid-append tears at most the last line, so an unparsable last non-blank
    line (cut inside a value or inside a UTF-8 character) is ignored; an unparsable line
    before it means a corrupt file and raises `ValueError` (`json.JSONDecodeError` or
    `UnicodeDecodeError`).
    """
    if not path.exists():
        return []
    # Bytes, not text: a torn multi-byte character must spoil only its own line.
    lines = read(path).split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(loads(line))
        except ValueError:
            if i == last:
                break
            raise
    return rows


def code_version(repo: Path | None = None) -> str:
    """git commit of the code (suffix -dirty when modified), or 'unknown'."""
    cwd = repo or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "ppo", "envjax"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class RunWriter:
    """Writes one run's records under `run_dir` (= runs/<run_id>)."""

    def __init__(self, run_dir: Path, meta: dict[str, Any]) -> None:
        self.dir = Path(run_dir)
        self.meta = meta
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "eval").mkdir(exist_ok=True)
        (self.dir / "checkpoints").mkdir(exist_ok=True)

    @classmethod
    def create(
        cls,
        run_dir: Path,
        run_id: str,
        name: str,
        config: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> RunWriter:
        """Start a new run: run.json in state running."""
        now = utc_now()
        meta = {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "name": name,
            "created_at": now,
            "updated_at": now,
            "state": "running",
            "config": config,
            "wandb": None,
            "code_version": code_version(),
            "windows_completed": 0,
            "last_checkpoint": None,
            "best_checkpoint": None,
            "error": None,
            **(extra or {}),
        }
        w = cls(run_dir, meta)
        w.write_meta()
        return w

    @classmethod
    def reopen(cls, run_dir: Path, keep_through_window: int | None) -> RunWriter:
        """Resume: drop rows and eval files after `keep_through_window`, state running."""
        meta = read_run(run_dir)
        w = cls(run_dir, meta)
        keep = -1 if keep_through_window is None else keep_through_window
        for fname in ("windows.jsonl", "updates.jsonl"):
            path = w.dir / fname
            rows = [r for r in read_jsonl(path) if r["window_id"] <= keep]
            tmp = path.with_name(f".{fname}.tmp{os.getpid()}")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("".join(dumps(r) + "\n" for r in rows))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        for p in (w.dir / "eval").glob("*.json"):
            if p.stem.isdigit() and int(p.stem) > keep:
                p.unlink()
        meta["windows_completed"] = len(read_jsonl(w.dir / "windows.jsonl"))
        meta["state"] = "running"
        meta["error"] = None
        w.write_meta()
        return w

    def reserve_space(self) -> None:
        """Best effort: keep RESERVE_BYTES allocated in the run dir (see RESERVE_NAME)."""
        path = self.dir / RESERVE_NAME
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)
        except OSError:
            path.unlink(missing_ok=True)

    def remove_temporaries(self) -> None:
        """Delete temporary files a failed write may leave: `.<name>.tmp<pid>` files and
        `checkpoints/.tmp-*` folders (only one trainer writes a run: the run lock)."""
        import shutil

        for folder in (self.dir, self.dir / "eval"):
            for p in folder.glob(".*.tmp*"):
                p.unlink(missing_ok=True)
        for p in (self.dir / "checkpoints").glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)

    def write_final_meta(self, **changes: Any) -> bool:
        """The last run.json of a failed or crashed run, even on a full disk: temporaries
        and the space reserve are deleted to make room. False when it still cannot be
        written (the previous run.json stays intact: the rewrite is atomic)."""
        self.remove_temporaries()
        try:
            self.write_meta(**changes)
            return True
        except OSError as e:
            if not is_disk_full(e):
                return False
        (self.dir / RESERVE_NAME).unlink(missing_ok=True)
        self.remove_temporaries()
        try:
            self.write_meta(**changes)
            return True
        except OSError:
            self.remove_temporaries()
            return False

    def finish(self, **changes: Any) -> None:
        """The run ended well: write run.json and drop the space reserve."""
        self.write_meta(**changes)
        (self.dir / RESERVE_NAME).unlink(missing_ok=True)

    def write_meta(self, **changes: Any) -> None:
        """Update fields of run.json and rewrite it atomically."""
        self.meta.update(changes)
        self.meta["updated_at"] = utc_now()
        write_json_atomic(self.dir / "run.json", self.meta)

    def append_window(
        self,
        window_row: dict[str, Any],
        update_rows: list[dict[str, Any]],
        eval_doc: dict[str, Any] | None,
    ) -> None:
        """Eval file, then update rows, then the window row (a window is complete when its
        row exists)."""
        if eval_doc is not None:
            write_json_atomic(self.dir / "eval" / f"{window_row['window_id']}.json", eval_doc)
        append_jsonl(self.dir / "updates.jsonl", update_rows)
        append_jsonl(self.dir / "windows.jsonl", [window_row])
        self.meta["windows_completed"] = int(self.meta.get("windows_completed", 0)) + 1


# ---- readers (used by the analytics service) ----


def _check_run_dir(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"no run records at {run_dir} (run.json missing)")
    return run_dir


def list_runs(runs_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """run.json of every run under `runs_dir`, newest (created_at) first; unreadable skipped."""
    root = Path(runs_dir)
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for d in root.iterdir():
        if not (d.is_dir() and RUN_ID_RE.match(d.name) and (d / "run.json").is_file()):
            continue
        try:
            out.append(json.loads((d / "run.json").read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    out.sort(key=lambda m: m.get("created_at", ""), reverse=True)
    return out


class DamagedRecord(ValueError):
    """A record file that exists but cannot be read as what it should hold."""


def read_run(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """run.json of one run; FileNotFoundError when missing, DamagedRecord (one line) when it
    is not a JSON object (garbage, cut short, not UTF-8, nested past the parser's depth)."""
    d = _check_run_dir(Path(run_dir))
    path = d / "run.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DamagedRecord(f"{path} is damaged ({type(e).__name__}: {why})") from None
    if not isinstance(meta, dict):
        raise DamagedRecord(f"{path} is damaged (a JSON {type(meta).__name__}, not an object)")
    return meta


def read_windows(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All window rows, in window order."""
    return read_jsonl(_check_run_dir(Path(run_dir)) / "windows.jsonl")


def read_updates(
    run_dir: str | os.PathLike[str], window_id: int | None = None
) -> list[dict[str, Any]]:
    """Update rows, of one window when `window_id` is given."""
    rows = read_jsonl(_check_run_dir(Path(run_dir)) / "updates.jsonl")
    if window_id is None:
        return rows
    return [r for r in rows if r["window_id"] == window_id]


def read_eval(run_dir: str | os.PathLike[str], window_id: int) -> dict[str, Any] | None:
    """eval/<window_id>.json, or None when that window has no evaluation."""
    p = _check_run_dir(Path(run_dir)) / "eval" / f"{int(window_id)}.json"
    if not p.is_file():
        return None
    return json.loads(p.read_text(encoding="utf-8"))
