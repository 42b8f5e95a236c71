"""Load a trained policy from run records, for replays, play and evaluation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

from ppo import checkpoint
from ppo.network import ActorCritic, apply_mask, sample_actions
from ppo.records import read_run

ActFn = Callable[[jax.Array, jax.Array, jax.Array | None], jax.Array]


def load(
    run_dir: str | os.PathLike[str], window_id: int | None = None, greedy: bool = False
) -> ActFn:
    """`act(obs, mask, key) -> int32 action` of checkpoint `window_id` (None: the last).

    `obs` is float32[260] (or batched [..., 260]), `mask` bool[69] (or batched); invalid
    actions are masked when the run trained with masking (a run trained without it acts as
    it learned, mask unused). With greedy=True the argmax is taken and `key` is ignored.
    The returned function is jitted. Raises FileNotFoundError for a missing run or window.
    """
    from envjax import N_ACTIONS, OBS_DIM

    run_dir = Path(run_dir)
    meta = read_run(run_dir)
    cfg = meta["config"]
    if window_id is None:
        done = checkpoint.complete_windows(run_dir)
        if not done:
            raise FileNotFoundError(f"run {run_dir.name} has no complete checkpoint")
        window_id = done[-1]
    net = ActorCritic(n_actions=N_ACTIONS, hidden=int(cfg["hidden"]), layers=int(cfg["layers"]))
    template = net.init(jax.random.PRNGKey(0), jnp.zeros((1, OBS_DIM), jnp.float32))
    params = checkpoint.load_params(run_dir, int(window_id), template)
    masking = bool(cfg["action_masking"])

    @jax.jit
    def act(obs: jax.Array, mask: jax.Array, key: jax.Array | None = None) -> jax.Array:
        logits, _ = net.apply(params, obs)
        if masking:
            logits = apply_mask(logits, mask)
        if greedy or key is None:
            return jnp.argmax(logits, axis=-1).astype(jnp.int32)
        if logits.ndim == 1:
            return sample_actions(logits[None], key)[0]
        return sample_actions(logits, key)

    return act
