"""Run-record keys as the service uses them (docs/RUN_RECORDS.md, docs/API.md).

The canonical metric names and the run-id pattern live in `ppo.metrics` and `ppo.records`
(the service installs with the trainer: replays need it); this module adds the
service's own views of them.
"""

from __future__ import annotations

from ppo.metrics import KIND_NAMES, KPI_KEYS, UPDATE_KEYS, WINDOW_KEYS
from ppo.records import RUN_ID_RE

__all__ = ["KPI_KEYS", "UPDATE_KEYS", "WINDOW_KEYS"]

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

# The eval action-mix kinds (W&B key names: ppo.wandb_mapping).
ACTION_KINDS = KIND_NAMES

RUN_ID_PATTERN = RUN_ID_RE.pattern
