"""The stub W&B server's data: run records turned into W&B runs, history and summary as
the trainer logs them (docs/RUN_RECORDS.md, "W&B mapping")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics_service import records
from analytics_service.views import parse_time
from ppo.wandb_mapping import window_log_rows


@dataclass
class StubRun:
    """One run as W&B would hold it."""

    run_id: str
    display_name: str
    state: str
    created_at: str
    heartbeat_at: str
    config: dict
    summary: dict
    history: list[dict] = field(default_factory=list)  # rows with `_step`, ascending
    group: str | None = None
    commit: str | None = None

    @property
    def last_step(self) -> int:
        return self.history[-1]["_step"] if self.history else -1


def _wandb_time(iso: str) -> str:
    # W&B spells times without zone or fraction: "2026-11-24T02:30:00".
    dt = records_time(iso)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") if dt else iso


def records_time(iso: str) -> datetime | None:
    return parse_time(iso)


class _Recorder:
    """Stands in for a `wandb.Run`: records what the trainer logs, as W&B would store it."""

    def __init__(self, t0: float) -> None:
        self.rows: list[dict] = []
        self.t0 = t0

    def log(self, data: dict, step: int) -> None:
        row: dict[str, Any] = {}
        for k, v in data.items():
            row[k] = v.to_json() if hasattr(v, "to_json") else v
        row["_step"] = int(step)
        self.rows.append(row)


def history_from_records(
    windows: list[dict], updates: list[dict], evals: dict[int, dict]
) -> list[dict]:
    """The W&B history the trainer logs for these records (`ppo.wandb_mapping`, which the
    trainer's logger uses too, so the stub cannot drift from the trainer). W&B adds
    `_timestamp`; here it is the window's record timestamp."""
    by_window: dict[int, list[dict]] = {}
    for u in updates:
        by_window.setdefault(int(u["window_id"]), []).append(u)
    rec = _Recorder(0.0)

    def log_window(w_row: dict, ups: list[dict], ev: dict | None) -> None:
        for step, data in window_log_rows(w_row, ups, ev):
            rec.log(data, step=step)

    for w_row in windows:
        w = int(w_row["window_id"])
        start = len(rec.rows)
        ups = sorted(by_window.get(w, []), key=lambda r: r["update"])
        log_window(w_row, ups, evals.get(w))
        ts = records_time_epoch(w_row.get("timestamp"))
        for row in rec.rows[start:]:
            row["_timestamp"] = ts
            row["_runtime"] = w_row.get("wall_time_s")
    rows = sorted(rec.rows, key=lambda r: r["_step"])
    return rows


def records_time_epoch(iso: Any) -> float | None:
    """A record timestamp as W&B's `_timestamp` (seconds since the epoch, to the ms)."""
    if not isinstance(iso, str):
        return None
    try:
        dt = datetime.fromisoformat(iso.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:  # naive means UTC, as in the run records
        dt = dt.replace(tzinfo=UTC)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000).timestamp()


def load_runs(runs_dir: Path) -> dict[str, StubRun]:
    """Stub runs built from the run records under `runs_dir`."""
    out: dict[str, StubRun] = {}
    for run_id in records.list_run_ids(runs_dir):
        path = runs_dir / run_id
        meta = records.read_run(path)
        windows = records.read_windows(path)
        updates = records.read_updates(path)
        evals = {
            int(w["window_id"]): ev
            for w in windows
            if (ev := records.read_eval(path, int(w["window_id"]))) is not None
        }
        history = history_from_records(windows, updates, evals)
        summary: dict[str, Any] = {}
        for row in history:  # W&B's summary keeps the last logged value of each key
            summary.update(row)
        out[run_id] = StubRun(
            run_id=run_id,
            display_name=meta.get("name") or run_id,
            state=meta["state"],
            created_at=_wandb_time(meta["created_at"]),
            heartbeat_at=_wandb_time(meta["updated_at"]),
            config=dict(meta.get("config") or {}),
            summary=summary,
            history=history,
            group=meta.get("group"),
            commit=meta.get("code_version"),
        )
    return out
