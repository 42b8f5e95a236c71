"""The stub W&B server's data: run records turned into W&B runs, history and summary as
the trainer logs them (docs/RUN_RECORDS.md, "W&B mapping")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics_service import records
from analytics_service.keys import ACTION_KINDS, WANDB_ACTION_MIX_PREFIX, WANDB_HIST_KEYS
from analytics_service.views import _timestamp, parse_time


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


def _own_mapping(rec: _Recorder, w_row: dict, updates: list[dict], ev: dict | None) -> None:
    # docs/RUN_RECORDS.md "W&B mapping", for when the trainer package is not importable.
    def nn(row: dict) -> dict:
        return {k: v for k, v in row.items() if v is not None and k != "timestamp"}

    w = int(w_row["window_id"])
    for u in updates:
        rec.log(nn(u), step=int(u["update"]) + w)
    data = nn(w_row)
    if ev:
        for name, key in WANDB_HIST_KEYS.items():
            h = ev["histograms"][name]
            data[key] = {"_type": "histogram", "values": h["counts"], "bins": h["bin_edges"]}
        for kind in ACTION_KINDS:
            data[f"{WANDB_ACTION_MIX_PREFIX}{kind}"] = ev["action_mix"].get(kind)
    rec.log(data, step=int(w_row["last_update"]) + w + 1)


def history_from_records(
    windows: list[dict], updates: list[dict], evals: dict[int, dict]
) -> list[dict]:
    """The W&B history the trainer logs for these records: its own `WandbLogger.log_window`
    when importable (so the stub cannot drift from the trainer), else the documented mapping.
    W&B adds `_timestamp`; here it is the window's record timestamp."""
    by_window: dict[int, list[dict]] = {}
    for u in updates:
        by_window.setdefault(int(u["window_id"]), []).append(u)
    rec = _Recorder(0.0)
    try:
        from ppo.wandb_log import WandbLogger  # type: ignore[import-not-found]

        logger = WandbLogger(
            mode="disabled",
            run_id="stub",
            name="stub",
            project="stub",
            entity=None,
            config={},
            run_dir=Path("."),
            resume=False,
        )
        logger.run = rec

        def log_window(w_row: dict, ups: list[dict], ev: dict | None) -> None:
            logger.log_window(w_row, ups, ev)
            if logger.run is None:
                raise RuntimeError(f"trainer W&B logging failed: {logger.error}")
    except ImportError:

        def log_window(w_row: dict, ups: list[dict], ev: dict | None) -> None:
            _own_mapping(rec, w_row, ups, ev)

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
    text = _timestamp(iso)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None  # not a time: W&B would log the row at its own time


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
