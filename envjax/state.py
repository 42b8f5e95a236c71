"""Caravan's JAX state: the flax.struct state and params, the counter-based hash, and the
first state of an episode (docs/ENV_SPEC.md sections 3-4). Constant tables: `envjax.tables`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envjax import constants as C
from envjax import tables as T

_U32 = np.uint32


@struct.dataclass
class EnvParams:
    """Env parameters, gymnax-style. Empty on purpose: every number of the game is fixed by
    docs/ENV_SPEC.md (and shared with the reference), so there is nothing to tune per run;
    the argument exists so that gymnax-style code can pass `env.default_params` around."""


@struct.dataclass
class EnvState:
    """Whole game state of one env (add a leading axis for a batch)."""

    base_seed: jax.Array  # uint32: the seed the env was reset from
    env_index: jax.Array  # int32
    episode: jax.Array  # int32: episodes started since reset_from_seed (0-based)
    ep_seed: jax.Array  # uint32: this episode's seed
    day: jax.Array  # int32: 0..360
    town: jax.Array  # int32
    cash: jax.Array  # int32 cents
    health: jax.Array  # int32
    cargo: jax.Array  # int32[12] units
    price: jax.Array  # int32[96] cents, live price of town t, good g at t * 12 + g
    base: jax.Array  # int32[96] cents
    seen: jax.Array  # int32[96] cents, last-seen prices (0 where never seen)
    seen_day: jax.Array  # int32[8] day of last visit, -1 never
    n_invalid: jax.Array  # int32 invalid actions this episode

    if TYPE_CHECKING:  # added by flax.struct.dataclass; declared for the type checker

        def replace(self, **updates: Any) -> EnvState: ...


# ---- hashing ----


def fmix32(h: jax.Array) -> jax.Array:
    """murmur3 finaliser on uint32 (wraps like the Python version masked to 32 bits)."""
    h = h ^ (h >> 16)
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> 16)


def episode_seed(base_seed: jax.Array, env_index: jax.Array, episode: jax.Array) -> jax.Array:
    s = fmix32(fmix32(base_seed.astype(jnp.uint32) ^ _U32(C.SEED_SALT)) ^ env_index.astype(_U32))
    return fmix32(s + episode.astype(_U32) * _U32(C.GOLDEN))


def day_key(ep_seed: jax.Array, day: jax.Array) -> jax.Array:
    return fmix32(ep_seed + (day + 1).astype(_U32) * _U32(C.GOLDEN))


# ---- reset ----


def initial_state(
    base_seed: jax.typing.ArrayLike, env_index: jax.typing.ArrayLike, episode: jax.typing.ArrayLike
) -> EnvState:
    """First state of an episode (mirrors envjax.reference.initial_state)."""
    base_seed = jnp.asarray(base_seed, jnp.uint32)
    env_index = jnp.asarray(env_index, jnp.int32)
    episode = jnp.asarray(episode, jnp.int32)
    ep_seed = episode_seed(base_seed, env_index, episode)
    key = day_key(ep_seed, jnp.int32(-1))
    h_tg = fmix32(key ^ T.PRICE_KEYS)  # [8, 12]
    h_g = fmix32(key ^ T.IDX_KEY[C.SLOT_GOOD : C.SLOT_GOOD + C.N_GOODS])  # [12]
    h_s = fmix32(key ^ T.IDX_KEY[C.SLOT_START])
    mult = C.MULT_OTHER_LO + ((T.as_i32(h_tg & 0xFFFF) * C.MULT_OTHER_SPAN) >> 16)
    producer = T.as_i32(h_g & 7)
    consumer = (producer + 1 + ((T.as_i32((h_g >> 3) & 0xFFFF) * 7) >> 16)) & 7
    m_prod = C.MULT_PROD_LO + ((T.as_i32((h_g >> 19) & 0xFF) * C.MULT_PROD_SPAN) >> 8)
    m_cons = C.MULT_CONS_LO + ((T.as_i32((h_g >> 27) & 31) * C.MULT_CONS_SPAN) >> 5)
    t = T.TG_TOWN.reshape(C.N_TOWNS, C.N_GOODS)
    mult = jnp.where(t == consumer[None], m_cons[None], mult.reshape(C.N_TOWNS, C.N_GOODS))
    mult = jnp.where(t == producer[None], m_prod[None], mult).reshape(T.N_TG)
    base = jax.lax.div(T.V96 * mult, 1000)
    town = T.as_i32(h_s >> 29)
    here = town == T.TOWNS
    seen = jnp.where(town == T.TG_TOWN, base, 0)
    seen_day = jnp.where(here, 0, -1).astype(jnp.int32)
    cargo = jnp.zeros(C.N_GOODS, jnp.int32).at[C.PROVISIONS].set(C.START_PROVISIONS)
    return EnvState(
        base_seed=base_seed,
        env_index=env_index,
        episode=episode,
        ep_seed=ep_seed,
        day=jnp.int32(0),
        town=town,
        cash=jnp.int32(C.START_CASH_CENTS),
        health=jnp.int32(C.START_HEALTH),
        cargo=cargo,
        price=base,
        base=base,
        seen=seen,
        seen_day=seen_day,
        n_invalid=jnp.int32(0),
    )
