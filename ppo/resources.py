"""A run's memory estimate, checked against this machine before JAX starts.

Pure arithmetic on the config (no jax import): the biggest buffers a window holds at once,
per device set, so an absurd size (--num-envs 10000000000, --hidden 1000000000) is refused
with one line instead of an allocator abort or a swap storm. The estimate errs high; the
cap is this machine's physical memory (`os.sysconf`), the documented limit also for a GPU
run (device memory on the boxes we use is of the same order).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from envjax.constants import N_ACTIONS, OBS_DIM

if TYPE_CHECKING:
    from ppo.config import Derived, TrainConfig

F32 = 4
# Bytes of one env's EnvState (jax.eval_shape of CaravanEnv.reset; tests/test_reliability_
# trainer.py checks this against the real env, so it cannot drift unnoticed).
ENV_STATE_BYTES = 1268
# One transition in the rollout buffer: obs + action, logp, value, reward, done, and the
# GAE targets; x2 for the per-epoch shuffled copy of the batch.
TRANSITION_BYTES = 2 * (OBS_DIM * F32 + 8 * F32)
# Host memory per update row (a Python dict of ~20 keys) and per window row with its eval.
UPDATE_ROW_BYTES = 4096
MAX_WINDOWS = 1_000_000  # windows.jsonl rows of one run


def machine_memory_bytes() -> int:
    """Physical memory of this machine, bytes (0 when the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def param_count(hidden: int, layers: int) -> int:
    """Parameters of the shared-trunk MLP with its policy and value heads."""
    trunk = OBS_DIM * hidden + hidden + (layers - 1) * (hidden * hidden + hidden)
    return trunk + (hidden + 1) * (N_ACTIONS + 1)


def memory_estimate(cfg: TrainConfig, der: Derived) -> dict[str, int]:
    """Bytes the run holds at once, by part (all seeds, all devices together).

    rollout: the rollout buffer of one update. env_states: env states + last observations
    (x2: the step's input and output). network: params, gradients, Adam moments and the
    update, per seed, plus the activations of one minibatch and one rollout step. eval: the
    eval episodes' states and activations. host: the window's update rows on the host.
    """
    s = cfg.num_seeds
    width = cfg.hidden * cfg.layers + N_ACTIONS + 1  # activations per sample
    per_env = ENV_STATE_BYTES + OBS_DIM * F32
    return {
        "rollout": s * der.batch_size * TRANSITION_BYTES,
        "env_states": s * cfg.num_envs * per_env * 2,
        "network": s
        * (
            5 * param_count(cfg.hidden, cfg.layers) * F32
            + 3 * der.minibatch_size * width * F32
            + 2 * cfg.num_envs * width * F32
        ),
        "eval": s * 2 * cfg.eval_episodes * (per_env * 2 + width * F32 + 16 * F32),
        "host": s * cfg.updates_per_window * UPDATE_ROW_BYTES,
    }


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_resources(cfg: TrainConfig, der: Derived, limit: int | None = None) -> list[str]:
    """One-line errors when the run cannot fit: too many windows, or its memory estimate
    above `limit` (default: this machine's memory)."""
    errs = []
    if der.num_windows > MAX_WINDOWS:
        errs.append(
            f"--total-steps {cfg.total_steps:,} makes {der.num_windows:,} windows of "
            f"{der.steps_per_window:,} env steps; at most {MAX_WINDOWS:,} (lower --total-steps "
            f"or raise --num-envs / --rollout-steps / --updates-per-window)"
        )
    limit = machine_memory_bytes() if limit is None else limit
    parts = memory_estimate(cfg, der)
    total = sum(parts.values())
    if limit and total > limit:
        big = max(parts, key=lambda k: parts[k])
        flags = {
            "rollout": "--num-envs / --rollout-steps",
            "env_states": "--num-envs",
            "network": "--hidden / --layers / --num-envs",
            "eval": "--eval-episodes",
            "host": "--updates-per-window",
        }[big]
        detail = ", ".join(f"{k} {_gib(v)}" for k, v in parts.items())
        errs.append(
            f"the run needs about {_gib(total)} of memory ({detail}), more than this "
            f"machine's {_gib(limit)}; lower {flags}"
        )
    return errs


__all__ = ["check_resources", "machine_memory_bytes", "memory_estimate"]
