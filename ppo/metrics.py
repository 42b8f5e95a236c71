"""Canonical metric names (the one place they are spelled) and host-side row building.

The names are used unchanged by the run records, W&B, the analytics API and the website.
The compiled window returns per-update sums (`ppo.window.UpdateStats`); this module turns
them into update rows and one window row. Non-finite values become None (JSON null).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from envjax.constants import ACTION_KIND_NAMES

LOSS_KEYS = (
    "loss/policy",
    "loss/value",
    "loss/entropy",
    "loss/approx_kl",
    "loss/clip_frac",
    "loss/explained_variance",
)
OPT_KEYS = ("opt/lr", "opt/grad_norm")
TRAIN_KEYS = (
    "train/return_mean",
    "train/profit_mean",
    "train/survival_rate",
    "train/invalid_action_rate",
    "train/episode_length_mean",
    "train/episodes",
)
EVAL_KEYS = (
    "eval/return_mean",
    "eval/return_p10",
    "eval/return_p90",
    "eval/profit_mean",
    "eval/survival_rate",
    "eval/invalid_action_rate",
)
KIND_NAMES = ACTION_KIND_NAMES  # the action kinds, in envjax.constants's order
ACTION_KEYS = tuple(f"actions/{kind}" for kind in KIND_NAMES)
TIMING_KEYS = ("wall_time_s", "window_time_s", "sps", "compile_s", "timestamp")

WINDOW_KEYS = (
    "window_id",
    "env_steps",
    "first_update",
    "last_update",
    *TIMING_KEYS,
    *TRAIN_KEYS,
    *EVAL_KEYS,
    *ACTION_KEYS,
    *LOSS_KEYS,
    *OPT_KEYS,
)
# Host-loop phase timings of a window (ppo.events.Phases), written after WINDOW_KEYS in each
# windows.jsonl row. Records-only for now: the API serves WINDOW_KEYS. records_s and
# checkpoint_s end after the row is written, so a row carries the previous window's.
PHASE_KEYS = (
    "time/compute_s",
    "time/fetch_s",
    "time/eval_s",
    "time/prev_records_s",
    "time/prev_checkpoint_s",
)
# Every key of a windows.jsonl row as the trainer writes it, in order.
WINDOW_ROW_KEYS = (*WINDOW_KEYS, *PHASE_KEYS)
UPDATE_KEYS = ("window_id", "update", "env_steps", *LOSS_KEYS, *OPT_KEYS, *TRAIN_KEYS)
KPI_KEYS = (
    "eval/return_mean",
    "eval/profit_mean",
    "eval/survival_rate",
    "eval/invalid_action_rate",
    "sps",
    "env_steps",
    "window_id",
)

_STAT_FOR_KEY = {
    "loss/policy": "policy",
    "loss/value": "value",
    "loss/entropy": "entropy",
    "loss/approx_kl": "approx_kl",
    "loss/clip_frac": "clip_frac",
    "loss/explained_variance": "explained_variance",
    "opt/lr": "lr",
    "opt/grad_norm": "grad_norm",
}


def finite_or_none(x: Any) -> float | None:
    """A Python float, or None where not finite."""
    v = float(x)
    return v if math.isfinite(v) else None


def _episode_stats(st: dict[str, np.ndarray], sl: slice | int) -> dict[str, Any]:
    """train/* over the updates selected by `sl` (sums first, then ratios)."""
    n = float(np.sum(st["episodes"][sl]))
    steps = float(np.sum(st["steps"][sl]))

    def per_episode(name: str) -> float | None:
        return finite_or_none(np.sum(st[name][sl]) / n) if n > 0 else None

    return {
        "train/return_mean": per_episode("return_sum"),
        "train/profit_mean": per_episode("profit_sum"),
        "train/survival_rate": per_episode("survived_sum"),
        "train/invalid_action_rate": (
            finite_or_none(np.sum(st["invalid_steps"][sl]) / steps) if steps > 0 else None
        ),
        "train/episode_length_mean": per_episode("length_sum"),
        "train/episodes": round(n),
    }


def update_rows(
    st: dict[str, np.ndarray],
    window_id: int,
    first_update: int,
    env_steps_before: int,
    batch_size: int,
) -> list[dict[str, Any]]:
    """One row per update of a window; `st` holds one seed's UpdateStats as numpy [K]."""
    rows = []
    for k in range(len(st["policy"])):
        row: dict[str, Any] = {
            "window_id": window_id,
            "update": first_update + k,
            "env_steps": env_steps_before + (k + 1) * batch_size,
        }
        for key, name in _STAT_FOR_KEY.items():
            row[key] = finite_or_none(st[name][k])
        row.update(_episode_stats(st, k))
        rows.append(row)
    return rows


def window_metrics(st: dict[str, np.ndarray]) -> dict[str, Any]:
    """train/*, actions/*, loss/* and opt/* of a whole window (means over its updates)."""
    out: dict[str, Any] = _episode_stats(st, slice(None))
    kinds = np.sum(st["kind_counts"], axis=0)
    total = float(np.sum(kinds))
    for key, c in zip(ACTION_KEYS, kinds, strict=True):
        out[key] = finite_or_none(c / total) if total > 0 else None
    for key, name in _STAT_FOR_KEY.items():
        out[key] = finite_or_none(np.mean(st[name]))
    return out


def nonfinite_keys(st: dict[str, np.ndarray]) -> list[str]:
    """Loss/opt metrics that are NaN or inf in any update, plus 'params' if they are."""
    bad = [key for key, name in _STAT_FOR_KEY.items() if not np.all(np.isfinite(st[name]))]
    if not np.all(st["params_finite"]):
        bad.append("params")
    return bad


def empty_eval_metrics() -> dict[str, Any]:
    """eval/* when a window has no evaluation."""
    return dict.fromkeys(EVAL_KEYS)
