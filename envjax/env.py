"""The jittable Caravan env: pure functions over a flax.struct state, gymnax-style.

Written for one env and vmapped for batches. All dynamics are int32/uint32 (docs/ENV_SPEC.md);
floats appear only in the observation and the reward. The step avoids gathers (one-hot
products instead), hashes once per town-good per day, and auto-resets by select
(`envjax.autoreset`). State, params, hash and reset live in `envjax.state`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envjax import constants as C
from envjax import spaces
from envjax import tables as T
from envjax.autoreset import auto_reset
from envjax.state import (
    EnvParams,
    EnvState,
    day_key,
    episode_seed,
    fmix32,
    initial_state,
)

__all__ = [
    "CaravanEnv",
    "EnvParams",
    "EnvState",
    "action_mask",
    "auto_reset",
    "day_key",
    "episode_return",
    "episode_seed",
    "fmix32",
    "get_obs",
    "initial_state",
    "net_worth",
]

# ---- derived quantities ----


def net_worth(state: EnvState) -> jax.Array:
    """Cash plus cargo at fair value (int32 cents); 0 once dead."""
    nw = state.cash + jnp.sum(state.cargo * T.V)
    return jnp.where(state.health > 0, nw, 0)


def _here(state: EnvState) -> tuple[jax.Array, jax.Array]:
    onehot = state.town == T.TOWNS
    rows = jnp.where(state.town == T.TG_TOWN, state.price, 0).reshape(C.N_TOWNS, C.N_GOODS)
    return onehot, jnp.sum(rows, axis=0)


def _mask_parts(state: EnvState, onehot: jax.Array, price_here: jax.Array) -> jax.Array:
    adj = jnp.any(onehot[:, None] & T.ADJ, axis=0)  # [8]
    free = C.CAPACITY - jnp.sum(state.cargo * T.W)
    buy1 = (price_here <= state.cash) & (free >= T.W)
    cost10 = C.lot_cost(price_here, 10, T.impact_step(price_here))
    buy10 = (cost10 <= state.cash) & (free >= 10 * T.W)
    has1 = state.cargo >= 1
    return jnp.concatenate([jnp.ones(1, bool), adj, buy1, buy10, has1, state.cargo >= 10, has1])


def action_mask(state: EnvState, params: EnvParams | None = None) -> jax.Array:
    """bool[69]: True exactly where the action is valid."""
    onehot, price_here = _here(state)
    return _mask_parts(state, onehot, price_here)


def get_obs(state: EnvState, params: EnvParams | None = None) -> jax.Array:
    """float32[260] observation (layout in docs/ENV_SPEC.md)."""
    f = jnp.float32
    onehot, price_here = _here(state)
    mask = _mask_parts(state, onehot, price_here)
    seen_f = state.seen.astype(f) * T.INV_V96
    age = jnp.where(
        state.seen_day < 0, f(1.0), (state.day - state.seen_day).astype(f) / f(C.MAX_DAYS)
    )
    danger = jnp.sum(jnp.where(onehot[:, None], T.DANGER, 0), axis=0)
    danger = jnp.where(danger > 0, danger.astype(f) / f(3.0), f(0.0))
    cash = state.cash.astype(f) / f(100.0)
    used = jnp.sum(state.cargo * T.W)
    nw = net_worth(state).astype(f) / f(100.0)
    prov = state.cargo[C.PROVISIONS]
    others = jnp.where(state.town == T.TG_TOWN, 0, state.seen).reshape(C.N_TOWNS, C.N_GOODS)
    best = jnp.max(others, axis=0).astype(f) * T.INV_V
    scalars = jnp.stack(
        [
            cash / (cash + f(1000.0)),
            jnp.minimum(cash, f(10000.0)) / f(10000.0),
            state.health.astype(f) / f(100.0),
            jnp.minimum(prov, 100).astype(f) / f(100.0),
            state.day.astype(f) / f(C.MAX_DAYS),
            (C.MAX_DAYS - state.day).astype(f) / f(C.MAX_DAYS),
            (C.CAPACITY - used).astype(f) / f(C.CAPACITY),
            used.astype(f) / f(C.CAPACITY),
            nw / (nw + f(1000.0)),
            (prov < 5).astype(f),
            (state.health < C.MEDICINE_THRESHOLD).astype(f),
            (state.cargo[C.MEDICINE] >= 1).astype(f),
        ]
    )
    return jnp.concatenate(
        [
            mask.astype(f),
            price_here.astype(f) * T.INV_V,
            seen_f,
            age,
            onehot.astype(f),
            danger,
            state.cargo.astype(f) / f(100.0),
            scalars,
            best,
            jnp.zeros(C.OBS_DIM - 237, f),
        ]
    )


# ---- step ----


def _tick(price: jax.Array, base: jax.Array, key: jax.Array) -> jax.Array:
    h = fmix32(key ^ T.PRICE_KEYS)
    amp = jnp.maximum(1, jax.lax.div(base, C.NOISE_DIV))
    noise = ((T.as_i32(h & 0xFFFF) * (2 * amp + 1)) >> 16) - amp
    p = jnp.clip(price + ((base - price) >> C.PRICE_PULL_SHIFT) + noise, 1, T.CAP96)
    shock = ((h >> 16) & C.SHOCK_MASK) == 0
    mag = C.SHOCK_MIN_PCT + ((T.as_i32((h >> 26) & 63) * C.SHOCK_SPAN_PCT) >> 6)
    factor = 100 + jnp.where(((h >> 25) & 1) == 1, mag, -mag)
    return jnp.where(shock, jnp.clip(jax.lax.div(p * factor, 100), 1, T.CAP96), p)


def _reward(delta: jax.Array, invalid: jax.Array) -> jax.Array:
    total = delta - C.INVALID_PENALTY_CENTS * invalid.astype(jnp.int32)
    return total.astype(jnp.float32) * jnp.float32(C.REWARD_SCALE)


def episode_return(state: EnvState) -> jax.Array:
    """Episode return from integers (the sum of step rewards up to float32 rounding)."""
    total = net_worth(state) - C.START_NET_WORTH_CENTS - C.INVALID_PENALTY_CENTS * state.n_invalid
    return total.astype(jnp.float32) * jnp.float32(C.REWARD_SCALE)


def _transition(
    state: EnvState, action: jax.Array, full_info: bool
) -> tuple[EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
    action = jnp.asarray(action, jnp.int32)
    onehot = state.town == T.TOWNS
    kind = jnp.where(
        action == C.A_WAIT,
        C.KIND_WAIT,
        jnp.where(
            action < C.A_BUY1, C.KIND_TRAVEL, jnp.where(action < C.A_SELL1, C.KIND_BUY, C.KIND_SELL)
        ),
    )
    nw_before = net_worth(state)
    key = day_key(state.ep_seed, state.day)

    # the chosen action's target and lot; validity is checked for this action alone
    dest = action - C.A_TRAVEL
    danger = jnp.sum(jnp.where(onehot[:, None] & (dest == T.TOWNS)[None], T.DANGER, 0))
    g = jnp.where(action >= C.A_SELL1, action - C.A_SELL1, action - C.A_BUY1) % C.N_GOODS
    g_hot = g == T.GOODS
    held = jnp.sum(jnp.where(g_hot, state.cargo, 0))
    slot = state.town * C.N_GOODS + g
    traded = slot == np.arange(T.N_TG, dtype=np.int32)
    p = jnp.sum(jnp.where(traded, state.price, 0))
    d = T.impact_step(p)
    lot = jnp.where(
        (action < C.A_BUY10) | ((action >= C.A_SELL1) & (action < C.A_SELL10)),
        1,
        jnp.where(action >= C.A_SELLALL, held, 10),
    )
    cost = C.lot_cost(p, lot, d)
    free = C.CAPACITY - jnp.sum(state.cargo * T.W)
    w_g = jnp.sum(jnp.where(g_hot, T.W, 0))
    valid = jnp.where(
        kind == C.KIND_TRAVEL,
        danger >= 0,
        jnp.where(
            kind == C.KIND_BUY,
            (cost <= state.cash) & (lot * w_g <= free),
            (kind == C.KIND_WAIT) | ((held >= lot) & (held >= 1)),
        ),
    )
    travel = valid & (kind == C.KIND_TRAVEL)
    buy = valid & (kind == C.KIND_BUY)
    sell = valid & (kind == C.KIND_SELL)

    # travel and bandits
    roll = T.as_i32(fmix32(key ^ T.IDX_KEY[C.SLOT_BANDIT]) & 0xFFFF)
    attack = travel & (roll * 100 < danger * C.BANDIT_THRESHOLD_PER_DANGER)
    town = jnp.where(travel, dest, state.town)

    # trade at the current town
    n = jnp.where(buy | sell, lot, 0)
    cost = jnp.where(buy, cost, 0)
    m = jnp.minimum(n, jax.lax.div(jnp.maximum(p - 1, 0), d) + 1)
    gross = m * p - d * ((m * (m - 1)) >> 1) + (n - m)
    proceeds = jax.lax.div(gross * C.SELL_NUM, C.SELL_DEN)
    cash_delta = jnp.where(buy, -cost, jnp.where(sell, proceeds, 0))
    cap_g = jnp.sum(jnp.where(g_hot, T.CAP, 0))
    new_p = jnp.where(buy, jnp.minimum(cap_g, p + n * d), jnp.maximum(1, p - n * d))
    price_delta = jnp.where(buy | sell, new_p - p, 0)
    units_delta = jnp.where(buy, n, -n)

    cash = state.cash + cash_delta
    cash = jnp.where(attack, cash - jax.lax.div(cash, 10) * C.BANDIT_CASH_TENTHS, cash)
    health = state.health - jnp.where(attack, C.BANDIT_HEALTH_LOSS, 0)
    cargo = state.cargo + jnp.where(g_hot, units_delta, 0)

    # the world ticks (trade impact first, at the old town)
    price = _tick(state.price + jnp.where(traded, price_delta, 0), state.base, key)

    # eat, medicine
    prov = cargo[C.PROVISIONS]
    starved = prov == 0
    health = jnp.where(
        starved,
        health - C.STARVE_HEALTH_LOSS,
        jnp.minimum(C.MAX_HEALTH, health + C.FED_HEALTH_GAIN),
    )
    medicine = (health < C.MEDICINE_THRESHOLD) & (cargo[C.MEDICINE] >= 1)
    health = jnp.where(medicine, jnp.minimum(C.MAX_HEALTH, health + C.MEDICINE_HEAL), health)
    cargo = cargo - jnp.where(T.GOODS == C.PROVISIONS, (~starved).astype(jnp.int32), 0)
    cargo = cargo - jnp.where(T.GOODS == C.MEDICINE, medicine.astype(jnp.int32), 0)

    # what the caravan sees, the calendar
    day = state.day + 1
    here = town == T.TOWNS
    seen = jnp.where(town == T.TG_TOWN, price, state.seen)
    seen_day = jnp.where(here, day, state.seen_day)
    invalid = ~valid
    new = state.replace(
        day=day,
        town=town,
        cash=cash,
        health=health,
        cargo=cargo,
        price=price,
        seen=seen,
        seen_day=seen_day,
        n_invalid=state.n_invalid + invalid.astype(jnp.int32),
    )
    terminated = health <= 0
    truncated = ~terminated & (day >= C.MAX_DAYS)
    nw = net_worth(new)
    reward = _reward(nw - nw_before, invalid)
    info = {"invalid": invalid, "action_kind": kind}
    if full_info:
        info.update(
            net_worth=nw,
            bandit_attack=attack,
            medicine_used=medicine,
            starved=starved,
            trade_units=n,
            trade_cash=cash_delta,
        )
    return new, reward, terminated, truncated, info


def _episode_info(new: EnvState, done: jax.Array) -> dict[str, jax.Array]:
    return {
        "episode_done": done,
        "episode_return": episode_return(new),
        "episode_profit": (net_worth(new) - C.START_NET_WORTH_CENTS).astype(jnp.float32)
        * jnp.float32(C.PROFIT_SCALE),
        "episode_survived": new.health > 0,
        "episode_invalid": new.n_invalid,
        "episode_length": new.day,
    }


class CaravanEnv:
    """Caravan in JAX with the gymnax interface (see docs/INTERFACES.md section 1).

    `full_info=True` adds per-step diagnostics to `info` (net_worth, bandit_attack,
    medicine_used, starved, trade_units, trade_cash); the default keeps `info` cheap.
    """

    def __init__(self, full_info: bool = False) -> None:
        self.full_info = full_info

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    @property
    def num_actions(self) -> int:
        return C.N_ACTIONS

    @property
    def name(self) -> str:
        return "Caravan-v0"

    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[jax.Array, EnvState]:
        """Reset with a seed drawn from `key` (env index 0)."""
        seed = jax.random.bits(key, (), jnp.uint32)
        return self.reset_from_seed(seed, params)

    def reset_from_seed(
        self, seed: Any, params: EnvParams | None = None, env_index: Any = 0
    ) -> tuple[jax.Array, EnvState]:
        """Deterministic reset: episode 0 of env `env_index` from uint32 `seed`."""
        state = initial_state(jnp.asarray(seed, jnp.uint32), jnp.asarray(env_index, jnp.int32), 0)
        return get_obs(state), state

    def step_env(
        self, key: jax.Array, state: EnvState, action: Any, params: EnvParams | None = None
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One day without auto-reset (stepping a finished episode is undefined)."""
        new, reward, terminated, truncated, info = _transition(state, action, self.full_info)
        info.update(_episode_info(new, terminated | truncated))
        return get_obs(new), new, reward, terminated, truncated, info

    def step(
        self, key: jax.Array, state: EnvState, action: Any, params: EnvParams | None = None
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One day; a finished episode is replaced by the env's next one (same step)."""
        new, reward, terminated, truncated, info = _transition(state, action, self.full_info)
        done = terminated | truncated
        info.update(_episode_info(new, done))
        nxt = auto_reset(done, new)
        return get_obs(nxt), nxt, reward, terminated, truncated, info

    def action_mask(self, state: EnvState, params: EnvParams | None = None) -> jax.Array:
        return action_mask(state, params)

    def get_obs(self, state: EnvState, params: EnvParams | None = None) -> jax.Array:
        return get_obs(state, params)

    def observation_shape(self) -> tuple[int]:
        return (C.OBS_DIM,)

    def action_space(self, params: EnvParams | None = None) -> spaces.Discrete:
        """gymnax-style: the action ids 0 .. num_actions - 1."""
        return spaces.Discrete(C.N_ACTIONS)

    def observation_space(self, params: EnvParams | None = None) -> spaces.Box:
        """gymnax-style: float32[OBS_DIM] with the documented bounds (docs/ENV_SPEC.md)."""
        low, high = np.asarray(C.OBS_LOW, np.float32), np.asarray(C.OBS_HIGH, np.float32)
        return spaces.Box(low, high, (C.OBS_DIM,))
