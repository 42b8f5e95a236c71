"""Auto-reset: replace finished episodes by the env's next one, cheaply under vmap."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from envjax.state import EnvState, initial_state


def _select(pred: jax.Array, a: EnvState, b: EnvState) -> EnvState:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def _next_episode(state: EnvState) -> EnvState:
    return initial_state(state.base_seed, state.env_index, state.episode + 1)


@jax.custom_batching.custom_vmap
def auto_reset(done: jax.Array, state: EnvState) -> EnvState:
    """`state`, or the env's next episode where `done` (a select, no Python control flow).

    Under vmap a custom rule avoids building a fresh episode for every env each step: with
    no env done it returns the batch as is, with few done it builds fresh episodes for those
    rows only (gathered, then scattered back), and with many it falls back to the select.
    All three give exactly the select's result.
    """
    return _select(done, _next_episode(state), state)


def _auto_reset_rows(done: jax.Array, state: EnvState) -> EnvState:
    n = done.shape[0]
    k = max(1, n // 16)  # rows rebuilt on the cheap path

    def none(state: EnvState) -> EnvState:
        return state

    def few(state: EnvState) -> EnvState:
        idx = jnp.nonzero(done, size=k, fill_value=n)[0]
        rows = jax.tree_util.tree_map(lambda x: x[jnp.minimum(idx, n - 1)], state)
        fresh = jax.vmap(_next_episode)(rows)
        return jax.tree_util.tree_map(
            lambda x, f: x.at[idx].set(f, mode="drop", unique_indices=True), state, fresh
        )

    def many(state: EnvState) -> EnvState:
        fresh = jax.vmap(_next_episode)(state)
        return jax.tree_util.tree_map(
            lambda x, f: jnp.where(done.reshape((n,) + (1,) * (x.ndim - 1)), f, x), state, fresh
        )

    count = jnp.sum(done.astype(jnp.int32))
    branch = jnp.where(count == 0, 0, jnp.where(count <= k, 1, 2))
    return jax.lax.switch(branch, (none, few, many), state)


@auto_reset.def_vmap
def _auto_reset_vmap(
    axis_size: int, in_batched: list[Any], done: jax.Array, state: EnvState
) -> tuple[EnvState, Any]:
    done_b, state_b = in_batched
    if not done_b:
        done = jnp.broadcast_to(done, (axis_size,))
    state = jax.tree_util.tree_map(
        lambda x, b: x if b else jnp.broadcast_to(x, (axis_size, *x.shape)), state, state_b
    )
    out = _auto_reset_rows(done, state)
    return out, jax.tree_util.tree_map(lambda _: True, out)
