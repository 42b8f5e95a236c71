"""The local source: run records under `runs_dir` (docs/RUN_RECORDS.md)."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from analytics_service import degraded, liveness, records, views
from analytics_service.errors import NotFound, UpstreamError

log = logging.getLogger("analytics_service.local")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _guarded(method):
    # Unreadable records (a corrupt line, a half-written file) are the source failing,
    # not a bug: a 502 with a clear message, never a 500.
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        run_id = args[0] if args else "?"
        try:
            out = method(self, *args, **kwargs)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            degraded.report(
                f"records:{run_id}",
                f"run {run_id}: records unreadable ({type(exc).__name__}); answering 502 "
                "and leaving it out of the runs list until they read again",
            )
            raise UpstreamError("the run's records are unreadable") from None
        degraded.clear(f"records:{run_id}", f"run {run_id}: records readable again")
        return out

    return wrapper


@dataclass
class _Listed:
    stamp: tuple  # file_stamp of run.json and of windows.jsonl
    meta: dict  # run.json as parsed
    state: str  # run.json's state (liveness applied when listed)
    info: dict  # views.run_info, with that state
    window_times: list  # window_time_s of every row (kept for a running run only)


class LocalSource:
    """Reads run records; every method is blocking file IO (call it from a thread)."""

    name = "local"

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = Path(runs_dir)
        # run id -> its runs-list row, keyed by its files' stamps (one entry per run: a
        # listing of 10,000 runs re-reads only the runs that changed)
        self._listing: dict[str, _Listed] = {}
        self._listing_lock = threading.Lock()  # listings run in worker threads

    def _dir(self, run_id: str) -> Path:
        path = records.run_dir(self.runs_dir, run_id)
        if path is None:
            raise NotFound(f"no run {run_id!r} in the local run records")
        return path

    def _state(self, path: Path, meta: dict, rows: list[dict]) -> str:
        # run.json's state, with a vanished trainer's "running" read as crashed or stalled.
        return liveness.effective_state(
            views.run_state(meta.get("state")),
            path,
            meta.get("updated_at"),
            (r.get("window_time_s") for r in rows),
            datetime.now(UTC),
        )

    def _info(self, run_id: str, path: Path) -> dict:
        """The run's row of the runs list; from the listing memo while run.json and
        windows.jsonl are unchanged (only a `running` run's liveness is checked anew)."""
        base = os.fspath(path)  # (str paths: pathlib's joins cost more than the stats)
        stamp = (
            records.file_stamp(os.path.join(base, "run.json")),
            records.file_stamp(os.path.join(base, "windows.jsonl")),
        )
        hit = self._listing.get(run_id)
        if hit is None or hit.stamp != stamp:
            # (run.json unchanged, as when only a window was appended: its parse is reused)
            meta = hit.meta if hit is not None and hit.stamp[0] == stamp[0] else None
            hit = self._listing_entry(run_id, path, stamp, meta)
        if hit.state != "running":
            return hit.info
        state = liveness.effective_state(
            "running", path, hit.meta.get("updated_at"), hit.window_times, datetime.now(UTC)
        )
        return {**hit.info, "state": state}

    def _listing_entry(
        self, run_id: str, path: Path, stamp: tuple, meta: dict | None = None
    ) -> _Listed:
        meta = records.read_run(path) if meta is None else meta
        rows = _windows(path)
        state = views.run_state(meta.get("state"))
        info = views.run_info(
            run_id=run_id,
            name=meta.get("name"),
            state=state,
            created_at=meta.get("created_at"),
            updated_at=meta.get("updated_at"),
            last_window=rows[-1] if rows else None,
            config=meta.get("config"),
            kpis=views.kpis_from_rows(rows),
            group=meta.get("group"),
            seed_index=views.seed_index_of(meta),
            code_version=meta.get("code_version"),
        )
        times = [r.get("window_time_s") for r in rows] if state == "running" else []
        entry = _Listed(stamp, meta, state, info, times)
        # (a stamp younger than a clock tick may not change with its content: not kept)
        if all(records.is_settled_stamp(s) for s in stamp if s is not None):
            self._listing[run_id] = entry
        return entry

    def list_runs(self, limit: int, group: str | None = None) -> list[dict]:
        """The newest `limit` runs (of `group` only, when given). A run whose run.json and
        windows.jsonl are unchanged since the last listing is not read again (two stats)."""
        with self._listing_lock:
            infos = self._list_infos()
        if group is not None:
            infos = [r for r in infos if r["group"] == group]
        infos.sort(key=lambda r: (r["created_at"] or _EPOCH, r["run_id"]), reverse=True)
        return infos[:limit]

    def _list_infos(self) -> list[dict]:
        infos = []
        try:
            run_ids = records.list_run_ids(self.runs_dir)
        except OSError as exc:
            # The directory itself (not a run in it) cannot be read: the source is failing.
            degraded.report(
                "records:runs_dir",
                f"runs dir {self.runs_dir} unreadable ({exc.strerror or type(exc).__name__}); "
                "answering 502 until it reads again",
            )
            raise UpstreamError("the run records directory cannot be read") from None
        degraded.clear("records:runs_dir", f"runs dir {self.runs_dir} readable again")
        for gone in self._listing.keys() - set(run_ids):
            self._listing.pop(gone, None)
        for run_id in run_ids:
            try:
                infos.append(self._info(run_id, self.runs_dir / run_id))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                # a run being created or a broken run.json: not listed
                self._listing.pop(run_id, None)
                degraded.report(
                    f"records:{run_id}",
                    f"run {run_id}: records unreadable ({type(exc).__name__}); answering 502 "
                    "and leaving it out of the runs list until they read again",
                )
                continue
        return infos

    @_guarded
    def summary(self, run_id: str) -> dict:
        """Run detail and KPIs."""
        path = self._dir(run_id)
        meta = records.read_run(path)
        rows = _windows(path)
        return {
            "run": {
                "run_id": run_id,
                "name": views.as_str(meta.get("name")),
                "state": self._state(path, meta, rows),
                "created_at": views.parse_time(meta.get("created_at")),
                "updated_at": views.parse_time(meta.get("updated_at")),
                "config": views.config_subset(meta.get("config")),
                "full_config": views.full_config(meta.get("config")),
                **views.run_meta(
                    rows[-1] if rows else None,
                    meta.get("group"),
                    views.seed_index_of(meta),
                    meta.get("code_version"),
                ),
            },
            "kpis": views.kpis_from_rows(rows),
        }

    @_guarded
    def windows(self, run_id: str) -> dict:
        """All window rows, by window_id, and the run's state."""
        path = self._dir(run_id)
        meta = records.read_run(path)
        rows = _windows(path)
        return {
            "state": self._state(path, meta, rows),
            "rows": [views.window_row(r) for r in rows],
        }

    @_guarded
    def window_detail(self, run_id: str, window_id: int) -> dict:
        """One window's drill-down."""
        path = self._dir(run_id)
        row = next((r for r in _windows(path) if r["window_id"] == window_id), None)
        if row is None:
            raise NotFound(f"run {run_id!r} has no window {window_id}")
        updates = sorted(
            records.read_updates(path, window_id), key=lambda r: _int_or(r.get("update"), 0)
        )
        return {
            "row": views.window_row(row),
            "updates": [views.update_row(u) for u in updates],
            "eval": views.eval_from_record(records.read_eval(path, window_id)),
        }


def _int_or(value: object, default: int) -> int:
    out = views.as_int(value)
    return default if out is None else out


def _windows(path: Path) -> list[dict]:
    """The window rows that have a window_id, ordered by it (file order among equals), each
    with its window_id as an int. A row without one cannot be addressed or charted; W&B
    has no such rows either (the trainer logs each window row at its own step)."""
    rows = []
    for row in records.read_windows(path):
        w = views.as_int(row.get("window_id"))
        if w is not None:
            rows.append({**row, "window_id": w})
    rows.sort(key=lambda r: r["window_id"])
    return rows
