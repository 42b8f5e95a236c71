"""The W&B mapping of run records (docs/RUN_RECORDS.md, "W&B mapping"), defined once.

The trainer's logger (`ppo.wandb_log`), the service's W&B source and views
(`analytics_service.wandb_source`, `analytics_service.views`) and the stub W&B server
(`tools.wandb_stub_data`) all import it, so what is logged and what is read back cannot drift.

Steps are a log counter: update `u` of window `w` at `update_step(u, w) = u + w`, window `w`'s
row right after its updates at `window_step(last_update, w) = last_update + w + 1`. Pure
functions of plain dicts; wandb itself is imported only by `wandb_histogram`, when called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ppo.metrics import KIND_NAMES

# Eval extras of a window row: histogram name in eval/<w>.json -> W&B key.
HIST_KEYS: dict[str, str] = {"return": "eval/return_hist", "profit": "eval/profit_hist"}
ACTION_MIX_PREFIX = "eval/actions/"  # + one of KIND_NAMES
REPLAY_SEEDS_KEY = "eval/replay_seeds"  # read when present; the trainer does not log it

# histogram(counts int[n], bin_edges float[n + 1]) -> the value to log.
Histogram = Callable[[list[int], list[float]], Any]


def update_step(update: int, window_id: int) -> int:
    """W&B step of update `update` (the run's global update index) of window `window_id`."""
    return int(update) + int(window_id)


def window_step(last_update: int, window_id: int) -> int:
    """W&B step of window `window_id`'s row (right after its last update's row)."""
    return int(last_update) + int(window_id) + 1


def window_step_range(first_update: int, last_update: int, window_id: int) -> tuple[int, int]:
    """[min_step, max_step) holding all of a window's rows (`scan_history`'s arguments)."""
    return update_step(first_update, window_id), window_step(last_update, window_id) + 1


def action_mix_key(kind: str) -> str:
    """W&B key of one action kind's share in the eval action mix."""
    return f"{ACTION_MIX_PREFIX}{kind}"


def _without_nulls(row: dict[str, Any]) -> dict[str, Any]:
    # W&B rows hold absent keys rather than nulls, and no timestamp string (W&B adds its own).
    return {k: v for k, v in row.items() if v is not None and k != "timestamp"}


def wandb_histogram(counts: list[int], bin_edges: list[float]) -> Any:
    """A `wandb.Histogram` of precomputed counts and edges (imports wandb)."""
    import numpy as np
    import wandb

    return wandb.Histogram(np_histogram=(np.asarray(counts), np.asarray(bin_edges)))


def window_log_rows(
    window_row: dict[str, Any],
    update_rows: list[dict[str, Any]],
    eval_doc: dict[str, Any] | None,
    histogram: Histogram = wandb_histogram,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(step, data) of every W&B row of one window, in logging order: its update rows, then
    its window row with the eval histograms and action mix when `eval_doc` is given."""
    w = int(window_row["window_id"])
    for row in update_rows:
        yield update_step(row["update"], w), _without_nulls(row)
    data = _without_nulls(window_row)
    if eval_doc is not None:
        for name, key in HIST_KEYS.items():
            h = eval_doc["histograms"][name]
            data[key] = histogram(h["counts"], h["bin_edges"])
        for kind, share in eval_doc["action_mix"].items():
            data[action_mix_key(kind)] = share
    yield window_step(window_row["last_update"], w), data


def is_window_row(row: dict[str, Any]) -> bool:
    """True for a W&B history row that is a window row (update rows carry `update`)."""
    return "update" not in row and "wall_time_s" in row and row.get("window_id") is not None


__all__ = [
    "ACTION_MIX_PREFIX",
    "HIST_KEYS",
    "KIND_NAMES",
    "REPLAY_SEEDS_KEY",
    "action_mix_key",
    "is_window_row",
    "update_step",
    "wandb_histogram",
    "window_log_rows",
    "window_step",
    "window_step_range",
]
