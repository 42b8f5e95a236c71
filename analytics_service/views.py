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
    INT_KEYS,
    KPI_KEYS,
    STR_KEYS,
    UPDATE_KEYS,
    WANDB_ACTION_MIX_PREFIX,
    WANDB_HIST_KEYS,
    WANDB_REPLAY_SEEDS_KEY,
    WINDOW_KEYS,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The policies an evaluation (and so a replay) can run.
POLICIES = ("sampled", "greedy")
FINISHED_STATES = frozenset({"finished", "crashed", "failed", "killed", "preempted"})
# The states the API reports (docs/API.md); anything else a record or W&B says is "unknown".
RUN_STATES = ("running", "stalled", "finished", "crashed", "failed", "killed", "unknown")
# W&B's own run states in the API's terms: a preempted run's machine was taken away (as
# after a crash, `--resume` continues it); "preempting"/"pending" are still alive.
_WANDB_STATES = {"preempted": "crashed", "preempting": "running", "pending": "running"}
# JSON numbers a browser reads exactly (IEEE double); larger integers become null.
MAX_SAFE_INT = 2**53 - 1


def _parse_iso_utc(text: str) -> datetime | None:
    # ISO 8601 with `Z`, an offset or no zone (naive means UTC); None when unparsable.
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        # (an instant near year 1 or 9999 can fall outside datetime's range in UTC)
        return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


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


def as_float(value: Any) -> float | None:
    """A finite number as a float; null for anything else (NaN, ±inf, bools, strings,
    containers, integers beyond a double's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) else None


def as_int(value: Any) -> int | None:
    """An integer (or an integral finite float) within ±(2**53 - 1); null for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if not isinstance(value, int) or abs(value) > MAX_SAFE_INT:
        return None
    return value


def as_str(value: Any) -> str | None:
    """A string as valid UTF-8 (lone surrogates replaced); null for anything else."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def as_bool(value: Any) -> bool | None:
    """A JSON boolean; null for anything else."""
    return value if isinstance(value, bool) else None


def _typed(key: str, value: Any) -> Any:
    # A record's value in its key's API type, or null when it cannot be represented.
    if key in STR_KEYS:
        return as_str(value)
    if key in INT_KEYS:
        return as_int(value)
    return as_float(value)


def pick(row: Any, keys: tuple[str, ...]) -> dict:
    """`row` restricted to `keys`, each value in its key's type (`keys.INT_KEYS`,
    `STR_KEYS`, else float); missing, non-finite or unrepresentable values as null."""
    row = row if isinstance(row, dict) else {}
    return {k: _typed(k, _clean(row.get(k))) for k in keys}


def run_state(value: Any) -> str:
    """A record's (or W&B's) run state as one of `RUN_STATES`."""
    state = value.strip().lower() if isinstance(value, str) else ""
    state = _WANDB_STATES.get(state, state)
    return state if state in RUN_STATES else "unknown"


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
    out["timestamp"] = _timestamp(out["timestamp"])
    return out


def wandb_window_row(row: dict) -> dict:
    """A W&B window row in the API's shape. The trainer leaves out null values and the
    `timestamp` string; W&B's own `_timestamp` (log time) stands in for it."""
    out = pick(row, WINDOW_KEYS)
    if isinstance(row.get("timestamp"), str):
        out["timestamp"] = _timestamp(out["timestamp"])
    elif (ts := as_float(row.get("_timestamp"))) is not None:
        try:
            out["timestamp"] = epoch_to_iso_ms(ts)
        except OverflowError:
            out["timestamp"] = None
    return out


def update_row(row: dict) -> dict:
    """An update row in the API's shape."""
    return pick(row, UPDATE_KEYS)


def kpis_from_rows(rows: list[dict]) -> dict:
    """The KPIs: each key's latest value that is not null in the window rows, in its API type
    (null when it cannot be represented, or before any row). That is what W&B's run summary
    holds, as the trainer logs every value but nulls to W&B."""
    latest: dict[str, Any] = {}
    for row in rows:
        for k in KPI_KEYS:
            if row.get(k) is not None:
                latest[k] = row[k]
    return pick(latest, KPI_KEYS)


def kpis_from_summary(summary: dict) -> dict:
    """The KPIs from a W&B run summary (null before the first window row)."""
    return pick(summary if isinstance(summary, dict) and "wall_time_s" in summary else {}, KPI_KEYS)


def config_subset(config: dict | None) -> dict:
    """The config fields shown with a run."""
    config = config if isinstance(config, dict) else {}
    out: dict[str, Any] = {}
    for k in CONFIG_SUBSET:
        v = _clean(config.get(k))
        out[k] = as_bool(v) if k == "action_masking" else as_float(v) if k == "lr" else as_int(v)
    return out


def run_info(
    *,
    run_id: str,
    name: str | None,
    state: str,
    created_at: Any,
    updated_at: Any,
    last_window: dict | None,
    config: dict | None = None,
    kpis: dict | None = None,
    group: Any = None,
    seed_index: Any = None,
    code_version: Any = None,
) -> dict:
    """A row of the runs list: identity, state, latest window, and what a runs table shows
    (`run_meta`, the config subset, the final KPIs), each value in its API type (null when
    the record's cannot be represented)."""
    last = pick(last_window, ("window_id", "env_steps", "wall_time_s"))
    return {
        "run_id": run_id,
        "name": as_str(name),
        "state": run_state(state),
        "created_at": parse_time(created_at),
        "updated_at": parse_time(updated_at),
        "window_id": last["window_id"],
        "env_steps": last["env_steps"],
        **run_meta(last, group, seed_index, code_version),
        "config": config_subset(config),
        "kpis": pick(kpis, KPI_KEYS),
    }


def run_meta(last_window: dict | None, group: Any, seed_index: Any, code_version: Any) -> dict:
    """`group`, `seed_index`, `code_version` and `duration_s` (the last window's
    `wall_time_s`, seconds) of a run; null where unknown or not representable in its type."""
    group = as_str(group)
    code_version = as_str(code_version)
    return {
        "group": group or None,
        "seed_index": as_int(_clean(seed_index)),
        "code_version": code_version or None,
        "duration_s": as_float(_clean(_dict(last_window).get("wall_time_s"))),
    }


def seed_index_of(meta: dict) -> Any:
    """run.json's `seed_index`, else the config's (what W&B's config holds)."""
    if meta.get("seed_index") is not None:
        return meta["seed_index"]
    return _dict(meta.get("config")).get("seed_index")


def full_config(config: Any) -> dict:
    """The run's whole config as recorded (non-finite numbers as null)."""
    if not isinstance(config, dict):
        return {}
    return {str(k): _clean(v) for k, v in config.items()}


def is_finished(state: str | None) -> bool:
    """True for states after which a run's data no longer changes."""
    return (state or "").lower() in FINISHED_STATES


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def histogram(bin_edges: Any, counts: Any) -> dict:
    """A histogram in the API's shape: finite float edges and non-negative int counts, one
    more edge than counts; an empty histogram when the record's is not that."""
    edges = [as_float(e) for e in bin_edges] if isinstance(bin_edges, list) else []
    ints = [as_int(c) for c in counts] if isinstance(counts, list) else []
    if (
        None in edges
        or any(c is None or c < 0 for c in ints)
        or (ints and len(edges) != len(ints) + 1)
    ):
        return {"bin_edges": [], "counts": []}
    return {"bin_edges": edges, "counts": ints}


def replay_seeds(value: Any) -> list[int]:
    """The replay seeds that are valid episode seeds (uint32); other entries are left out."""
    if not isinstance(value, list):
        return []
    seeds = (as_int(_clean(s)) for s in value)
    return [s for s in seeds if s is not None and 0 <= s < 2**32]


def eval_from_record(record: Any) -> dict | None:
    """The drill-down's `eval` from an eval/<window_id>.json record (null when the window
    has none, or when the file holds no JSON object)."""
    if not record or not isinstance(record, dict):
        return None
    hists = _dict(record.get("histograms"))
    mix = _dict(record.get("action_mix"))
    return {
        "histograms": {
            name: histogram(
                _dict(hists.get(name)).get("bin_edges"), _dict(hists.get(name)).get("counts")
            )
            for name in WANDB_HIST_KEYS
        },
        "action_mix": {k: as_float(_clean(mix.get(k))) for k in ACTION_KINDS},
        "replay_seeds": replay_seeds(record.get("replay_seeds")),
        "policy": record.get("policy") if record.get("policy") in POLICIES else None,
        "replays": replays_from_record(record),
    }


_RANKS = ("best", "median", "worst")


def replays_from_record(record: Any) -> list[dict]:
    """The replay seeds' episodes as the evaluation scored them (eval record `replays`),
    each value in its API type (null when unrepresentable); entries without a known rank or
    a valid episode seed are left out; [] for records written before that field."""
    items = _dict(record).get("replays")
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("rank") not in _RANKS:
            continue
        seed = replay_seeds([item.get("seed")])
        if not seed:
            continue
        out.append(
            {
                "rank": item["rank"],
                "seed": seed[0],
                "return": as_float(_clean(item.get("return"))),
                "profit": as_float(_clean(item.get("profit"))),
                "survived": as_bool(item.get("survived")),
                "length": as_int(_clean(item.get("length"))),
            }
        )
    return out


def _wandb_histogram(value: Any) -> dict | None:
    # wandb.Histogram in history JSON: {"_type": "histogram", "values": counts, "bins": edges}
    if not isinstance(value, dict) or value.get("_type") != "histogram":
        return None
    bins = value.get("bins")
    packed = value.get("packedBins")
    if bins is None and isinstance(packed, dict):
        lo, size, count = as_float(packed.get("min")), as_float(packed.get("size")), packed
        n = as_int(count.get("count"))
        if lo is None or size is None or n is None or not 0 <= n <= 10_000:
            return histogram(None, None)
        bins = [lo + i * size for i in range(n + 1)]
    return histogram(bins, value.get("values"))


def eval_from_wandb_row(row: dict) -> dict | None:
    """The drill-down's `eval` from a W&B window row (docs/RUN_RECORDS.md, W&B mapping)."""
    hists = {name: _wandb_histogram(row.get(key)) for name, key in WANDB_HIST_KEYS.items()}
    if all(h is None for h in hists.values()):
        return None
    empty = {"bin_edges": [], "counts": []}
    return {
        "histograms": {name: h or empty for name, h in hists.items()},
        "action_mix": {
            k: as_float(_clean(row.get(f"{WANDB_ACTION_MIX_PREFIX}{k}"))) for k in ACTION_KINDS
        },
        "replay_seeds": replay_seeds(row.get(WANDB_REPLAY_SEEDS_KEY)),
        "policy": None,  # not logged to W&B: from the local eval record where it is here
        "replays": [],
    }


def is_window_row(row: dict) -> bool:
    """True for a W&B history row that is a window row (update rows carry `update`)."""
    return "update" not in row and "wall_time_s" in row and as_int(row.get("window_id")) is not None
