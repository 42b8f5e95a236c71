"""Pure functions that turn run records or W&B rows into the API's payload pieces.

Both sources go through these, which is what makes their JSON identical for one run.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics_service.keys import (
    ACTION_KINDS,
    CONFIG_SUBSET,
    KPI_KEYS,
    UPDATE_KEYS,
    WINDOW_KEYS,
)
from ppo.wandb_mapping import HIST_KEYS, REPLAY_SEEDS_KEY, action_mix_key

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FINISHED_STATES = frozenset({"finished", "crashed", "failed", "killed", "preempted"})


def _parse_iso_utc(text: str) -> datetime | None:
    # ISO 8601 with `Z`, an offset or no zone (naive means UTC); None when unparsable.
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).astimezone(UTC)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string (with or without zone; naive means UTC) as a UTC datetime to the
    second, so W&B's and run.json's spellings of one instant compare equal."""
    if not isinstance(value, str) or not value:
        return None
    dt = _parse_iso_utc(value)
    return None if dt is None else dt.replace(microsecond=0)


def _clean(value: Any) -> Any:
    # JSON has no NaN/inf; W&B may hand them back as floats or as strings.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and value in ("NaN", "nan", "Infinity", "-Infinity", "inf"):
        return None
    return value


def pick(row: dict, keys: tuple[str, ...]) -> dict:
    """`row` restricted to `keys`, missing keys as null, non-finite numbers as null."""
    return {k: _clean(row.get(k)) for k in keys}


def iso_ms(dt: datetime) -> str:
    """`dt` as ISO 8601 UTC with milliseconds and a Z suffix (the run records' spelling)."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_to_iso_ms(ts: float) -> str:
    """Seconds since the epoch as `iso_ms`, rounded to the millisecond exactly."""
    return iso_ms(_EPOCH + timedelta(milliseconds=round(ts * 1000)))


def _timestamp(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    dt = _parse_iso_utc(value)
    return value if dt is None else iso_ms(dt)


def window_row(row: dict) -> dict:
    """A window row (a windows.jsonl line) in the API's shape."""
    out = pick(row, WINDOW_KEYS)
    out["timestamp"] = _timestamp(row.get("timestamp"))
    return out


def wandb_window_row(row: dict) -> dict:
    """A W&B window row in the API's shape. The trainer leaves out null values and the
    `timestamp` string; W&B's own `_timestamp` (log time) stands in for it."""
    out = pick(row, WINDOW_KEYS)
    if isinstance(row.get("timestamp"), str):
        out["timestamp"] = _timestamp(row["timestamp"])
    elif isinstance(row.get("_timestamp"), int | float):
        out["timestamp"] = epoch_to_iso_ms(float(row["_timestamp"]))
    return out


def update_row(row: dict) -> dict:
    """An update row in the API's shape."""
    return pick(row, UPDATE_KEYS)


def kpis_from_rows(rows: list[dict]) -> dict:
    """The KPIs: each key's latest non-null value over the window rows (null before any).
    That is what W&B's run summary holds, as the trainer logs no nulls to W&B."""
    out: dict[str, Any] = dict.fromkeys(KPI_KEYS)
    for row in rows:
        for k in KPI_KEYS:
            v = _clean(row.get(k))
            if v is not None:
                out[k] = v
    return out


def kpis_from_summary(summary: dict) -> dict:
    """The KPIs from a W&B run summary (null before the first window row)."""
    return pick(summary if "wall_time_s" in summary else {}, KPI_KEYS)


def config_subset(config: dict | None) -> dict:
    """The config fields shown with a run."""
    config = config or {}
    return {k: config.get(k) for k in CONFIG_SUBSET}


def run_info(
    *,
    run_id: str,
    name: str | None,
    state: str,
    created_at: Any,
    updated_at: Any,
    last_window: dict | None,
) -> dict:
    """A row of the runs list."""
    last = last_window or {}
    return {
        "run_id": run_id,
        "name": name,
        "state": state,
        "created_at": parse_time(created_at),
        "updated_at": parse_time(updated_at),
        "window_id": _clean(last.get("window_id")),
        "env_steps": _clean(last.get("env_steps")),
    }


def is_finished(state: str | None) -> bool:
    """True for states after which a run's data no longer changes."""
    return (state or "").lower() in FINISHED_STATES


def downsample(rows: list[dict], max_points: int) -> list[dict]:
    """At most `max_points` rows spread evenly, first and last always kept."""
    n = len(rows)
    if n <= max_points:
        return rows
    if max_points == 1:
        return [rows[-1]]
    idx = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
    return [rows[i] for i in idx]


def eval_from_record(record: dict | None) -> dict | None:
    """The drill-down's `eval` from an eval/<window_id>.json record."""
    if not record:
        return None
    hists = record.get("histograms") or {}
    return {
        "histograms": {
            name: {
                "bin_edges": list((hists.get(name) or {}).get("bin_edges") or []),
                "counts": list((hists.get(name) or {}).get("counts") or []),
            }
            for name in HIST_KEYS
        },
        "action_mix": {k: _clean((record.get("action_mix") or {}).get(k)) for k in ACTION_KINDS},
        "replay_seeds": [int(s) for s in record.get("replay_seeds") or []],
    }


def _wandb_histogram(value: Any) -> dict | None:
    # wandb.Histogram in history JSON: {"_type": "histogram", "values": counts, "bins": edges}
    if not isinstance(value, dict) or value.get("_type") != "histogram":
        return None
    bins = value.get("bins")
    if bins is None and "packedBins" in value:
        packed = value["packedBins"]
        bins = [packed["min"] + i * packed["size"] for i in range(packed["count"] + 1)]
    return {
        "bin_edges": [float(b) for b in bins or []],
        "counts": [int(c) for c in value.get("values") or []],
    }


def eval_from_wandb_row(row: dict) -> dict | None:
    """The drill-down's `eval` from a W&B window row (docs/RUN_RECORDS.md, W&B mapping)."""
    hists = {name: _wandb_histogram(row.get(key)) for name, key in HIST_KEYS.items()}
    if all(h is None for h in hists.values()):
        return None
    empty: dict[str, list] = {"bin_edges": [], "counts": []}
    seeds = row.get(REPLAY_SEEDS_KEY)
    return {
        "histograms": {name: h or empty for name, h in hists.items()},
        "action_mix": {k: _clean(row.get(action_mix_key(k))) for k in ACTION_KINDS},
        "replay_seeds": [int(s) for s in seeds] if isinstance(seeds, list) else [],
    }
