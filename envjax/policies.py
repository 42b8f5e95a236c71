"""Baseline policies: a uniform random valid action and a scripted heuristic trader.

Both are jittable and vmappable; `random_valid_action` reads only the mask in obs[:69],
`heuristic_action` reads the state (it sees only what the agent could see).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envjax import constants as C
from envjax.env import fmix32

_ACTION_KEYS = np.asarray(
    [C.fmix32(0xA5A5A5A5 ^ (a * C.GOLDEN)) for a in range(C.N_ACTIONS)], np.uint32
)


def random_valid_action(key: jax.Array, obs: jax.Array) -> jax.Array:
    """A uniformly random action among those with obs[a] == 1 (a < 69).

    One random uint32 from `key` ranks all actions through the murmur3 finaliser and the
    best-ranked valid action wins; this is uniform over the valid set (up to 32-bit ties)
    and much cheaper than drawing 69 random numbers or a cumulative sum.
    """
    bits = jax.random.bits(key, (), jnp.uint32)
    rank = fmix32(bits ^ _ACTION_KEYS)
    rank = jnp.where(obs[: C.N_ACTIONS] > 0.5, rank, jnp.uint32(0))
    return jnp.argmax(rank).astype(jnp.int32)
