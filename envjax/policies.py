"""Baseline policies: a uniform random valid action and a scripted heuristic trader.

Both are jittable and vmappable; `random_valid_action` reads only the observation's mask,
`heuristic_action` reads the state (it sees only what the agent could see).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envjax import constants as C
from envjax import tables as T
from envjax.env import action_mask
from envjax.state import EnvParams, EnvState, fmix32

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
    rank = jnp.where(C.action_mask_from_obs(obs), rank, jnp.uint32(0))
    return jnp.argmax(rank).astype(jnp.int32)


# ---- heuristic trader ----

_V, _W, _ADJ = T.V, T.W, T.ADJ
_DANGER = np.maximum(T.DANGER, 0)  # no road counts as danger 0 (such moves are masked)
_TRADE = np.arange(C.N_GOODS) >= 1  # goods the trader speculates in (not Provisions)
_FOOD_TARGET = 12  # days of food to carry
_FOOD_ROOM = 15  # weight kept free for food
_CASH_RESERVE = 6_000  # cents kept back from speculation (food money)


def _first(cond: jax.Array, action: jax.Array | int, rest: jax.Array) -> jax.Array:
    return jnp.where(cond, action, rest)


def heuristic_action(state: EnvState, params: EnvParams | None = None) -> jax.Array:
    """A scripted trader using only what the caravan can see (live prices here, last-seen
    prices elsewhere): keep food and a dose of medicine, sell goods priced well above their
    fair value, buy goods that are cheap here and dearer where last seen, then travel to the
    neighbour where the cargo should sell best (looking two roads ahead), avoiding dangerous
    roads in proportion to the cash at risk, and visiting stale towns when empty-handed."""
    mask = action_mask(state)
    here = state.town == jnp.arange(C.N_TOWNS)
    prices = state.price.reshape(C.N_TOWNS, C.N_GOODS)
    seen = state.seen.reshape(C.N_TOWNS, C.N_GOODS)
    price = jnp.sum(jnp.where(here[:, None], prices, 0), axis=0)
    cargo, cash = state.cargo, state.cash
    free = C.CAPACITY - jnp.sum(cargo * _W)
    prov = cargo[C.PROVISIONS]
    sellable = jnp.where(jnp.arange(C.N_GOODS) == C.MEDICINE, jnp.maximum(cargo - 1, 0), cargo)
    sellable = jnp.where(_TRADE, sellable, 0)

    # sell what fetches >= 1.15 V here (or anything when food is short and cannot be bought)
    food_blocked = (prov < 3) & ~mask[C.A_BUY1 + C.PROVISIONS]
    good_price = (price * 100 >= 115 * _V) | food_blocked
    sell_value = jnp.where(good_price & (sellable > 0), sellable * price, -1)
    g_sell = jnp.argmax(sell_value)
    n_sell = sellable[g_sell]
    a_sell = (
        jnp.where(
            n_sell >= 10, C.A_SELL10, jnp.where(n_sell == cargo[g_sell], C.A_SELLALL, C.A_SELL1)
        )
        + g_sell
    )
    do_sell = sell_value[g_sell] > 0

    # buy what is cheap here against the best price seen elsewhere (fair value if none seen)
    elsewhere = jnp.max(jnp.where(here[:, None], 0, seen), axis=0)
    target = jnp.maximum(elsewhere, _V * 115 // 100)
    spare = cash - _CASH_RESERVE
    room = free - _FOOD_ROOM
    cost10 = C.lot_cost(price, 10, T.impact_step(price))
    cheap = (price * 100 <= 80 * _V) & (target * 100 >= 130 * price) & _TRADE
    cheap = cheap & (jnp.arange(C.N_GOODS) != C.MEDICINE)
    gain = jnp.where(cheap, (target - price) // _W, -1)
    g_buy = jnp.argmax(gain)
    can10 = (
        mask[C.A_BUY10 + g_buy] & (cost10[g_buy] <= spare) & (10 * jnp.asarray(_W)[g_buy] <= room)
    )
    can1 = mask[C.A_BUY1 + g_buy] & (price[g_buy] <= spare) & (jnp.asarray(_W)[g_buy] <= room)
    a_buy = jnp.where(can10, C.A_BUY10, C.A_BUY1) + g_buy
    do_buy = (gain[g_buy] > 0) & (can10 | can1)

    # travel: expected sale value of the cargo per town, two roads deep, minus bandit risk
    est = jnp.where(state.seen_day[:, None] >= 0, seen, _V[None])
    value = jnp.sum(sellable[None] * est * 9 // 10, axis=1)  # [8]
    reach = jnp.max(jnp.where(_ADJ, value[None], 0), axis=1) * 19 // 20
    value = jnp.maximum(value, reach)
    age = jnp.where(state.seen_day >= 0, state.day - state.seen_day, 120)
    explore = jnp.minimum(age, 120) * 150
    danger = jnp.sum(jnp.where(here[:, None], _DANGER, 0), axis=0)
    risk = danger * (cash // 1000) * 18 + jnp.where(state.health <= 40, danger * 1_000_000, 0)
    score = jnp.where(mask[C.A_TRAVEL : C.A_BUY1], value + explore - risk, jnp.iinfo(jnp.int32).min)
    a_travel = C.A_TRAVEL + jnp.argmax(score)

    med_price = price[C.MEDICINE]
    want_med = (cargo[C.MEDICINE] == 0) & ((state.health < 60) | (cash > 150_000))
    want_med = want_med & mask[C.A_BUY1 + C.MEDICINE] & (cash >= 3 * med_price)

    action = a_travel
    action = _first(do_buy, a_buy, action)
    action = _first(do_sell, a_sell, action)
    action = _first(want_med, C.A_BUY1 + C.MEDICINE, action)
    action = _first((prov < 3) & mask[C.A_BUY1 + C.PROVISIONS], C.A_BUY1 + C.PROVISIONS, action)
    action = _first(
        (prov < _FOOD_TARGET) & mask[C.A_BUY10 + C.PROVISIONS] & (free >= 10),
        C.A_BUY10 + C.PROVISIONS,
        action,
    )
    return action.astype(jnp.int32)
