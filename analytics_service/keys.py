"""Canonical run-record key lists (docs/RUN_RECORDS.md).

`ppo.metrics` is the one home of these names once the trainer lands; this module reads it
when importable and otherwise uses the lists of docs/schemas/*.json, so the service runs
without the trainer installed.
"""

from __future__ import annotations

_TRAIN_KEYS = (
    "train/return_mean",
    "train/profit_mean",
    "train/survival_rate",
    "train/invalid_action_rate",
    "train/episode_length_mean",
    "train/episodes",
)
_LOSS_OPT_KEYS = (
    "loss/policy",
    "loss/value",
    "loss/entropy",
    "loss/approx_kl",
    "loss/clip_frac",
    "loss/explained_variance",
    "opt/lr",
    "opt/grad_norm",
)

_DEFAULT_WINDOW_KEYS: tuple[str, ...] = (
    "window_id",
    "env_steps",
    "first_update",
    "last_update",
    "wall_time_s",
    "window_time_s",
    "sps",
    "compile_s",
    "timestamp",
    *_TRAIN_KEYS,
    "eval/return_mean",
    "eval/return_p10",
    "eval/return_p90",
    "eval/profit_mean",
    "eval/survival_rate",
    "eval/invalid_action_rate",
    "actions/wait",
    "actions/travel",
    "actions/buy",
    "actions/sell",
    *_LOSS_OPT_KEYS,
)
_DEFAULT_UPDATE_KEYS: tuple[str, ...] = (
    "window_id",
    "update",
    "env_steps",
    *_LOSS_OPT_KEYS,
    *_TRAIN_KEYS,
)
_DEFAULT_KPI_KEYS: tuple[str, ...] = (
    "eval/return_mean",
    "eval/profit_mean",
    "eval/survival_rate",
    "eval/invalid_action_rate",
    "sps",
    "env_steps",
    "window_id",
)

try:  # one source of truth when the trainer is installed
    from ppo import metrics as _metrics  # type: ignore[import-not-found]

    WINDOW_KEYS: tuple[str, ...] = tuple(_metrics.WINDOW_KEYS)
    UPDATE_KEYS: tuple[str, ...] = tuple(_metrics.UPDATE_KEYS)
except (ImportError, AttributeError):
    WINDOW_KEYS = _DEFAULT_WINDOW_KEYS
    UPDATE_KEYS = _DEFAULT_UPDATE_KEYS

# The KPI set is the service's contract (docs/API.md), not the trainer's.
KPI_KEYS: tuple[str, ...] = _DEFAULT_KPI_KEYS

# Keys whose values are integers (the rest are floats or null, `timestamp` a string).
INT_KEYS = frozenset(
    {"window_id", "env_steps", "first_update", "last_update", "update", "train/episodes"}
)
STR_KEYS = frozenset({"timestamp"})

# Config fields shown in a run summary (always present in run.json, docs/RUN_RECORDS.md).
CONFIG_SUBSET: tuple[str, ...] = (
    "num_envs",
    "rollout_steps",
    "updates_per_window",
    "total_steps",
    "lr",
    "hidden",
    "seed",
    "action_masking",
)

# How the trainer names the eval extras in a W&B window row (docs/RUN_RECORDS.md, W&B mapping).
WANDB_HIST_KEYS = {"return": "eval/return_hist", "profit": "eval/profit_hist"}
ACTION_KINDS = ("wait", "travel", "buy", "sell")
WANDB_ACTION_MIX_PREFIX = "eval/actions/"
WANDB_REPLAY_SEEDS_KEY = "eval/replay_seeds"

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
