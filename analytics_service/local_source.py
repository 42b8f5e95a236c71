"""The local source: run records under `runs_dir` (docs/RUN_RECORDS.md)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from analytics_service import records, views
from analytics_service.errors import NotFound, UpstreamError

log = logging.getLogger("analytics_service.local")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _guarded(method):
    # Unreadable records (a corrupt line, a half-written file) are the source failing,
    # not a bug: a 502 with a clear message, never a 500.
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("unreadable run records (%s): %r", method.__name__, exc)
            raise UpstreamError("the run's records are unreadable") from None

    return wrapper


class LocalSource:
    """Reads run records; every method is blocking file IO (call it from a thread)."""

    name = "local"

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = Path(runs_dir)

    def _dir(self, run_id: str) -> Path:
        path = records.run_dir(self.runs_dir, run_id)
        if path is None:
            raise NotFound(f"no run {run_id!r} in the local run records")
        return path

    def _info(self, run_id: str, path: Path) -> dict:
        meta = records.read_run(path)
        rows = records.read_windows(path)
        return views.run_info(
            run_id=run_id,
            name=meta.get("name"),
            state=str(meta.get("state") or "unknown"),
            created_at=meta.get("created_at"),
            updated_at=meta.get("updated_at"),
            last_window=rows[-1] if rows else None,
        )

    def list_runs(self, limit: int) -> list[dict]:
        """The newest `limit` runs."""
        infos = []
        for run_id in records.list_run_ids(self.runs_dir):
            try:
                infos.append(self._info(run_id, self.runs_dir / run_id))
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a run being created or a broken run.json: not listed
        infos.sort(key=lambda r: (r["created_at"] or _EPOCH, r["run_id"]), reverse=True)
        return infos[:limit]

    @_guarded
    def summary(self, run_id: str) -> dict:
        """Run detail and KPIs."""
        path = self._dir(run_id)
        meta = records.read_run(path)
        rows = records.read_windows(path)
        return {
            "run": {
                "run_id": run_id,
                "name": meta.get("name"),
                "state": str(meta.get("state") or "unknown"),
                "created_at": views.parse_time(meta.get("created_at")),
                "updated_at": views.parse_time(meta.get("updated_at")),
                "config": views.config_subset(meta.get("config")),
            },
            "kpis": views.kpis_from_rows(rows),
        }

    @_guarded
    def windows(self, run_id: str) -> dict:
        """All window rows, by window_id, and the run's state."""
        path = self._dir(run_id)
        meta = records.read_run(path)
        rows = sorted(records.read_windows(path), key=lambda r: r.get("window_id", -1))
        return {
            "state": str(meta.get("state") or "unknown"),
            "rows": [views.window_row(r) for r in rows],
        }

    @_guarded
    def window_detail(self, run_id: str, window_id: int) -> dict:
        """One window's drill-down."""
        path = self._dir(run_id)
        row = next((r for r in records.read_windows(path) if r.get("window_id") == window_id), None)
        if row is None:
            raise NotFound(f"run {run_id!r} has no window {window_id}")
        updates = sorted(records.read_updates(path, window_id), key=lambda r: r.get("update", 0))
        return {
            "row": views.window_row(row),
            "updates": [views.update_row(u) for u in updates],
            "eval": views.eval_from_record(records.read_eval(path, window_id)),
        }
