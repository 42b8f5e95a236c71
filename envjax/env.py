"""The jittable Caravan env: pure functions over a flax.struct state, gymnax-style.

Written for one env and vmapped for batches. All dynamics are int32/uint32 (docs/ENV_SPEC.md);
floats appear only in the observation and the reward. The step avoids gathers (one-hot
products instead), hashes once per town-good per day, and auto-resets with selects.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envjax import constants as C

# ---- constant tables (numpy; folded into the compiled program) ----
_U32 = np.uint32
_V = np.asarray(C.GOOD_VALUE_CENTS, np.int32)
_W = np.asarray(C.GOOD_WEIGHT, np.int32)
_CAP = np.asarray(C.PRICE_CAP_CENTS, np.int32)
_INV_V = (1.0 / np.asarray(C.GOOD_VALUE_CENTS, np.float64)).astype(np.float32)
_DANGER = np.asarray(C.DANGER, np.int32)  # -1: no road
_ADJ = _DANGER != C.NO_ROAD
_IDX_KEY = np.asarray(C.IDX_KEY, _U32)
# Town-good tables are flat [96] (index t * 12 + g): XLA vectorises the step's elementwise
# work far better over one contiguous axis than over an [8, 12] block.
N_TG = C.N_TOWNS * C.N_GOODS
_PRICE_KEYS = _IDX_KEY[C.SLOT_PRICE : C.SLOT_PRICE + N_TG]
_TG_TOWN = np.repeat(np.arange(C.N_TOWNS, dtype=np.int32), C.N_GOODS)  # [96] town of slot
_TG_GOOD = np.tile(np.arange(C.N_GOODS, dtype=np.int32), C.N_TOWNS)  # [96] good of slot
_V96 = np.tile(_V, C.N_TOWNS)
_CAP96 = np.tile(_CAP, C.N_TOWNS)
_INV_V96 = np.tile(_INV_V, C.N_TOWNS)
_TOWNS = np.arange(C.N_TOWNS, dtype=np.int32)
_GOODS = np.arange(C.N_GOODS, dtype=np.int32)
_ACTIONS = np.arange(C.N_ACTIONS, dtype=np.int32)


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


def _i32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.int32)


# ---- reset ----


def initial_state(base_seed: jax.Array, env_index: jax.Array, episode: jax.Array) -> EnvState:
    """First state of an episode (mirrors envjax.reference.initial_state)."""
    base_seed = jnp.asarray(base_seed, jnp.uint32)
    env_index = jnp.asarray(env_index, jnp.int32)
    episode = jnp.asarray(episode, jnp.int32)
    ep_seed = episode_seed(base_seed, env_index, episode)
    key = day_key(ep_seed, jnp.int32(-1))
    h_tg = fmix32(key ^ _PRICE_KEYS)  # [8, 12]
    h_g = fmix32(key ^ _IDX_KEY[C.SLOT_GOOD : C.SLOT_GOOD + C.N_GOODS])  # [12]
    h_s = fmix32(key ^ _IDX_KEY[C.SLOT_START])
    mult = C.MULT_OTHER_LO + ((_i32(h_tg & 0xFFFF) * C.MULT_OTHER_SPAN) >> 16)
    producer = _i32(h_g & 7)
    consumer = (producer + 1 + ((_i32((h_g >> 3) & 0xFFFF) * 7) >> 16)) & 7
    m_prod = C.MULT_PROD_LO + ((_i32((h_g >> 19) & 0xFF) * C.MULT_PROD_SPAN) >> 8)
    m_cons = C.MULT_CONS_LO + ((_i32((h_g >> 27) & 31) * C.MULT_CONS_SPAN) >> 5)
    t = _TG_TOWN.reshape(C.N_TOWNS, C.N_GOODS)
    mult = jnp.where(t == consumer[None], m_cons[None], mult.reshape(C.N_TOWNS, C.N_GOODS))
    mult = jnp.where(t == producer[None], m_prod[None], mult).reshape(N_TG)
    base = jax.lax.div(_V96 * mult, 1000)
    town = _i32(h_s >> 29)
    here = town == _TOWNS
    seen = jnp.where(town == _TG_TOWN, base, 0)
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


# ---- derived quantities ----


def net_worth(state: EnvState) -> jax.Array:
    """Cash plus cargo at fair value (int32 cents); 0 once dead."""
    nw = state.cash + jnp.sum(state.cargo * _V)
    return jnp.where(state.health > 0, nw, 0)


def _here(state: EnvState) -> tuple[jax.Array, jax.Array]:
    onehot = state.town == _TOWNS
    rows = jnp.where(state.town == _TG_TOWN, state.price, 0).reshape(C.N_TOWNS, C.N_GOODS)
    return onehot, jnp.sum(rows, axis=0)


def _lot_cost(p: jax.Array, n: int | jax.Array) -> jax.Array:
    d = jnp.maximum(1, jax.lax.div(p, C.IMPACT_DIV))
    return n * p + d * ((n * (n - 1)) >> 1)


def _mask_parts(state: EnvState, onehot: jax.Array, price_here: jax.Array) -> jax.Array:
    adj = jnp.any(onehot[:, None] & _ADJ, axis=0)  # [8]
    free = C.CAPACITY - jnp.sum(state.cargo * _W)
    buy1 = (price_here <= state.cash) & (free >= _W)
    buy10 = (_lot_cost(price_here, 10) <= state.cash) & (free >= 10 * _W)
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
    seen_f = state.seen.astype(f) * _INV_V96
    age = jnp.where(
        state.seen_day < 0, f(1.0), (state.day - state.seen_day).astype(f) / f(C.MAX_DAYS)
    )
    danger = jnp.sum(jnp.where(onehot[:, None], _DANGER, 0), axis=0)
    danger = jnp.where(danger > 0, danger.astype(f) / f(3.0), f(0.0))
    cash = state.cash.astype(f) / f(100.0)
    used = jnp.sum(state.cargo * _W)
    nw = net_worth(state).astype(f) / f(100.0)
    prov = state.cargo[C.PROVISIONS]
    others = jnp.where(state.town == _TG_TOWN, 0, state.seen).reshape(C.N_TOWNS, C.N_GOODS)
    best = jnp.max(others, axis=0).astype(f) * _INV_V
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
            price_here.astype(f) * _INV_V,
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
    h = fmix32(key ^ _PRICE_KEYS)
    amp = jnp.maximum(1, jax.lax.div(base, C.NOISE_DIV))
    noise = ((_i32(h & 0xFFFF) * (2 * amp + 1)) >> 16) - amp
    p = jnp.clip(price + ((base - price) >> C.PRICE_PULL_SHIFT) + noise, 1, _CAP96)
    shock = ((h >> 16) & C.SHOCK_MASK) == 0
    mag = C.SHOCK_MIN_PCT + ((_i32((h >> 26) & 63) * C.SHOCK_SPAN_PCT) >> 6)
    factor = 100 + jnp.where(((h >> 25) & 1) == 1, mag, -mag)
    return jnp.where(shock, jnp.clip(jax.lax.div(p * factor, 100), 1, _CAP96), p)


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
    onehot = state.town == _TOWNS
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
    danger = jnp.sum(jnp.where(onehot[:, None] & (dest == _TOWNS)[None], _DANGER, 0))
    g = jnp.where(action >= C.A_SELL1, action - C.A_SELL1, action - C.A_BUY1) % C.N_GOODS
    g_hot = g == _GOODS
    held = jnp.sum(jnp.where(g_hot, state.cargo, 0))
    slot = state.town * C.N_GOODS + g
    traded = slot == np.arange(N_TG, dtype=np.int32)
    p = jnp.sum(jnp.where(traded, state.price, 0))
    d = jnp.maximum(1, jax.lax.div(p, C.IMPACT_DIV))
    lot = jnp.where(
        (action < C.A_BUY10) | ((action >= C.A_SELL1) & (action < C.A_SELL10)),
        1,
        jnp.where(action >= C.A_SELLALL, held, 10),
    )
    cost = lot * p + d * ((lot * (lot - 1)) >> 1)
    free = C.CAPACITY - jnp.sum(state.cargo * _W)
    w_g = jnp.sum(jnp.where(g_hot, _W, 0))
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
    roll = _i32(fmix32(key ^ _IDX_KEY[C.SLOT_BANDIT]) & 0xFFFF)
    attack = travel & (roll * 100 < danger * C.BANDIT_THRESHOLD_PER_DANGER)
    town = jnp.where(travel, dest, state.town)

    # trade at the current town
    n = jnp.where(buy | sell, lot, 0)
    cost = jnp.where(buy, cost, 0)
    m = jnp.minimum(n, jax.lax.div(jnp.maximum(p - 1, 0), d) + 1)
    gross = m * p - d * ((m * (m - 1)) >> 1) + (n - m)
    proceeds = jax.lax.div(gross * C.SELL_NUM, C.SELL_DEN)
    cash_delta = jnp.where(buy, -cost, jnp.where(sell, proceeds, 0))
    cap_g = jnp.sum(jnp.where(g_hot, _CAP, 0))
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
    cargo = cargo - jnp.where(_GOODS == C.PROVISIONS, (~starved).astype(jnp.int32), 0)
    cargo = cargo - jnp.where(_GOODS == C.MEDICINE, medicine.astype(jnp.int32), 0)

    # what the caravan sees, the calendar
    day = state.day + 1
    here = town == _TOWNS
    seen = jnp.where(town == _TG_TOWN, price, state.seen)
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
