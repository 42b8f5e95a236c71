"""Batched reset/step for trainers and benchmarks (one env index per row, auto-reset)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from envjax.env import CaravanEnv, EnvParams, EnvState

_ENV = CaravanEnv()
_KEY = jax.random.key(0)  # step() ignores its key: the dynamics are hash-driven


@jax.jit
def reset_batch(seeds: Any, params: EnvParams | None = None) -> tuple[jax.Array, EnvState]:
    """Reset len(seeds) envs; env i gets env_index i (so auto-reset seeds never collide)."""
    seeds = jnp.asarray(seeds, jnp.uint32)
    idx = jnp.arange(seeds.shape[0], dtype=jnp.int32)
    return jax.vmap(_ENV.reset_from_seed, in_axes=(0, None, 0))(seeds, params, idx)


@functools.partial(jax.jit, static_argnames=("full_info",))
def step_batch(
    states: EnvState, actions: Any, params: EnvParams | None = None, full_info: bool = False
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
    """Step every env one day with auto-reset; returns batched (obs, state, reward, ...)."""
    env = CaravanEnv(full_info=full_info)
    actions = jnp.asarray(actions, jnp.int32)
    return jax.vmap(env.step, in_axes=(None, 0, 0, None))(_KEY, states, actions, params)
