"""Plain-Python reference of the Caravan game: one env, Python ints, the spec in code.

No numpy and no jax here (conversion helpers import them lazily). docs/ENV_SPEC.md is
normative; this module and `envjax.env` must agree with it bit for bit on integer state.
"""

from __future__ import annotations

import copy
import struct
from dataclasses import dataclass, field
from typing import Any

from envjax import constants as C


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 (ties to even), as XLA does."""
    return struct.unpack("f", struct.pack("f", x))[0]


@dataclass
class RefState:
    """Whole game state; every field is an int or a (nested) list of ints."""

    base_seed: int
    env_index: int
    episode: int
    ep_seed: int
    day: int
    town: int
    cash: int
    health: int
    cargo: list[int]
    price: list[list[int]]
    base: list[list[int]]
    seen: list[list[int]]
    seen_day: list[int]
    n_invalid: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


# ---- reset ----


def _hashes(key: int, slots: range) -> list[int]:
    return [C.fmix32(key ^ C.IDX_KEY[i]) for i in slots]


def initial_state(base_seed: int, env_index: int = 0, episode: int = 0) -> RefState:
    """First state of episode `episode` of env `env_index` (spec section "Reset")."""
    ep_seed = C.episode_seed(base_seed, env_index, episode)
    h = _hashes(C.day_key(ep_seed, -1), range(C.N_SLOTS))
    mult = [
        [C.MULT_OTHER_LO + (((h[t * C.N_GOODS + g] & 0xFFFF) * C.MULT_OTHER_SPAN) >> 16)
         for g in range(C.N_GOODS)]
        for t in range(C.N_TOWNS)
    ]  # fmt: skip
    for g in range(C.N_GOODS):
        hg = h[C.SLOT_GOOD + g]
        producer = hg & 7
        consumer = (producer + 1 + ((((hg >> 3) & 0xFFFF) * 7) >> 16)) & 7
        mult[producer][g] = C.MULT_PROD_LO + ((((hg >> 19) & 0xFF) * C.MULT_PROD_SPAN) >> 8)
        mult[consumer][g] = C.MULT_CONS_LO + ((((hg >> 27) & 31) * C.MULT_CONS_SPAN) >> 5)
    base = [
        [C.GOOD_VALUE_CENTS[g] * mult[t][g] // 1000 for g in range(C.N_GOODS)]
        for t in range(C.N_TOWNS)
    ]
    town = h[C.SLOT_START] >> 29
    seen = [[0] * C.N_GOODS for _ in range(C.N_TOWNS)]
    seen[town] = list(base[town])
    seen_day = [-1] * C.N_TOWNS
    seen_day[town] = 0
    cargo = [0] * C.N_GOODS
    cargo[C.PROVISIONS] = C.START_PROVISIONS
    return RefState(
        base_seed=base_seed & C.MASK32,
        env_index=env_index,
        episode=episode,
        ep_seed=ep_seed,
        day=0,
        town=town,
        cash=C.START_CASH_CENTS,
        health=C.START_HEALTH,
        cargo=cargo,
        price=[list(row) for row in base],
        base=base,
        seen=seen,
        seen_day=seen_day,
    )


# ---- derived quantities ----


def cargo_weight(s: RefState) -> int:
    return sum(u * w for u, w in zip(s.cargo, C.GOOD_WEIGHT, strict=True))


def net_worth(s: RefState) -> int:
    """Cash plus cargo at fair value, in cents; 0 once dead."""
    if s.health <= 0:
        return 0
    return s.cash + sum(u * v for u, v in zip(s.cargo, C.GOOD_VALUE_CENTS, strict=True))


def impact_step(p: int) -> int:
    return max(1, p // C.IMPACT_DIV)


def buy_cost(p: int, n: int) -> int:
    """Cost of n units when unit k (0-based) costs p + k * d."""
    return C.lot_cost(p, n, impact_step(p))


def sell_proceeds(p: int, n: int) -> int:
    """Cash for selling n units: unit k fetches max(1, p - k * d); 90 % of the gross is paid."""
    d = impact_step(p)
    m = min(n, (p - 1) // d + 1)  # units sold above the 1-cent floor
    gross = m * p - d * (m * (m - 1) // 2) + (n - m)
    return gross * C.SELL_NUM // C.SELL_DEN


def action_mask(s: RefState) -> list[bool]:
    """mask[a] is True exactly when action a is valid in state s."""
    mask = [False] * C.N_ACTIONS
    mask[C.A_WAIT] = True
    for t in range(C.N_TOWNS):
        mask[C.A_TRAVEL + t] = C.DANGER[s.town][t] != C.NO_ROAD
    free = C.CAPACITY - cargo_weight(s)
    for g in range(C.N_GOODS):
        p = s.price[s.town][g]
        w = C.GOOD_WEIGHT[g]
        mask[C.A_BUY1 + g] = buy_cost(p, 1) <= s.cash and w <= free
        mask[C.A_BUY10 + g] = buy_cost(p, 10) <= s.cash and 10 * w <= free
        mask[C.A_SELL1 + g] = s.cargo[g] >= 1
        mask[C.A_SELL10 + g] = s.cargo[g] >= 10
        mask[C.A_SELLALL + g] = s.cargo[g] >= 1
    return mask


def observation(s: RefState) -> list[float]:
    """The 260 observation values (docs/ENV_SPEC.md, "Observation")."""
    mask = action_mask(s)
    obs = [0.0] * C.OBS_DIM
    for a in range(C.N_ACTIONS):
        obs[a] = 1.0 if mask[a] else 0.0
    inv_v = [1.0 / v for v in C.GOOD_VALUE_CENTS]
    for g in range(C.N_GOODS):
        obs[69 + g] = s.price[s.town][g] * inv_v[g]
    for t in range(C.N_TOWNS):
        for g in range(C.N_GOODS):
            obs[81 + t * C.N_GOODS + g] = s.seen[t][g] * inv_v[g]
        sd = s.seen_day[t]
        obs[177 + t] = 1.0 if sd < 0 else (s.day - sd) / C.MAX_DAYS
        obs[185 + t] = 1.0 if t == s.town else 0.0
        d = C.DANGER[s.town][t]
        obs[193 + t] = 0.0 if d == C.NO_ROAD else d / 3.0
    for g in range(C.N_GOODS):
        obs[201 + g] = s.cargo[g] / 100.0
    cash = s.cash / 100.0
    obs[213] = cash / (cash + 1000.0)
    obs[214] = min(cash, 10000.0) / 10000.0
    obs[215] = s.health / 100.0
    obs[216] = min(s.cargo[C.PROVISIONS], 100) / 100.0
    obs[217] = s.day / C.MAX_DAYS
    obs[218] = (C.MAX_DAYS - s.day) / C.MAX_DAYS
    used = cargo_weight(s)
    obs[219] = (C.CAPACITY - used) / C.CAPACITY
    obs[220] = used / C.CAPACITY
    nw = net_worth(s) / 100.0
    obs[221] = nw / (nw + 1000.0)
    obs[222] = 1.0 if s.cargo[C.PROVISIONS] < 5 else 0.0
    obs[223] = 1.0 if s.health < C.MEDICINE_THRESHOLD else 0.0
    obs[224] = 1.0 if s.cargo[C.MEDICINE] >= 1 else 0.0
    for g in range(C.N_GOODS):
        best = max(
            (s.seen[t][g] for t in range(C.N_TOWNS) if t != s.town), default=0
        )  # never-seen towns hold 0
        obs[225 + g] = best * inv_v[g]
    return obs


# ---- step ----


@dataclass
class StepResult:
    """What one step of the dynamics produced (before any auto-reset)."""

    reward: float
    terminated: bool
    truncated: bool
    invalid: bool
    action_kind: int
    bandit_attack: bool
    medicine_used: bool
    starved: bool
    trade_units: int
    trade_cash: int


def step_state(s: RefState, action: int) -> StepResult:
    """Advance s by one day in place (spec section "Step")."""
    if not 0 <= action < C.N_ACTIONS:
        raise ValueError(f"action must be in [0, {C.N_ACTIONS}), got {action}")
    if s.health <= 0 or s.day >= C.MAX_DAYS:
        raise RuntimeError("episode is over; reset first")
    nw_before = net_worth(s)
    kind, target, lot = C.decode_action(action)
    invalid = not action_mask(s)[action]
    kind_eff = C.KIND_WAIT if invalid else kind
    attack = False
    units = 0
    cash_delta = 0
    # 1. the action
    if kind_eff == C.KIND_TRAVEL:
        danger = C.DANGER[s.town][target]
        s.town = target
        roll = C.fmix32(C.day_key(s.ep_seed, s.day) ^ C.IDX_KEY[C.SLOT_BANDIT]) & 0xFFFF
        if roll * 100 < danger * C.BANDIT_THRESHOLD_PER_DANGER:
            attack = True
            s.cash -= (s.cash // 10) * C.BANDIT_CASH_TENTHS
            s.health -= C.BANDIT_HEALTH_LOSS
    elif kind_eff in (C.KIND_BUY, C.KIND_SELL):
        p = s.price[s.town][target]
        d = impact_step(p)
        cap = C.PRICE_CAP_CENTS[target]
        if kind_eff == C.KIND_BUY:
            units = lot
            cash_delta = -buy_cost(p, units)
            s.cargo[target] += units
            s.price[s.town][target] = min(cap, p + units * d)
        else:
            units = s.cargo[target] if lot == -1 else lot
            cash_delta = sell_proceeds(p, units)
            s.cargo[target] -= units
            s.price[s.town][target] = max(1, p - units * d)
        s.cash += cash_delta
    # 2. the world ticks
    key = C.day_key(s.ep_seed, s.day)
    for t in range(C.N_TOWNS):
        for g in range(C.N_GOODS):
            h = C.fmix32(key ^ C.IDX_KEY[C.SLOT_PRICE + t * C.N_GOODS + g])
            s.price[t][g] = tick_price(s.price[t][g], s.base[t][g], C.PRICE_CAP_CENTS[g], h)
    # 3. the crew eats, 4. medicine
    starved = s.cargo[C.PROVISIONS] == 0
    if starved:
        s.health -= C.STARVE_HEALTH_LOSS
    else:
        s.cargo[C.PROVISIONS] -= 1
        s.health = min(C.MAX_HEALTH, s.health + C.FED_HEALTH_GAIN)
    medicine = s.health < C.MEDICINE_THRESHOLD and s.cargo[C.MEDICINE] >= 1
    if medicine:
        s.cargo[C.MEDICINE] -= 1
        s.health = min(C.MAX_HEALTH, s.health + C.MEDICINE_HEAL)
    # 5. what the caravan sees, 6. the calendar
    s.day += 1
    s.seen[s.town] = list(s.price[s.town])
    s.seen_day[s.town] = s.day
    s.n_invalid += int(invalid)
    terminated = s.health <= 0
    truncated = (not terminated) and s.day >= C.MAX_DAYS
    reward = step_reward(net_worth(s) - nw_before, invalid)
    return StepResult(
        reward=reward,
        terminated=terminated,
        truncated=truncated,
        invalid=invalid,
        action_kind=kind,
        bandit_attack=attack,
        medicine_used=medicine,
        starved=starved,
        trade_units=units,
        trade_cash=cash_delta,
    )


def tick_price(p: int, base: int, cap: int, h: int) -> int:
    """One day of one price: pull toward base, bounded noise, rare shock, clip."""
    amp = max(1, base // C.NOISE_DIV)
    noise = (((h & 0xFFFF) * (2 * amp + 1)) >> 16) - amp
    p = min(cap, max(1, p + ((base - p) >> C.PRICE_PULL_SHIFT) + noise))
    if (h >> 16) & C.SHOCK_MASK == 0:
        mag = C.SHOCK_MIN_PCT + ((((h >> 26) & 63) * C.SHOCK_SPAN_PCT) >> 6)
        factor = 100 + mag if (h >> 25) & 1 else 100 - mag
        p = min(cap, max(1, p * factor // 100))
    return p


def step_reward(delta_cents: int, invalid: bool) -> float:
    """float32(delta - 1000 * invalid) * float32(1e-4), rounded as in the JAX env."""
    return f32(
        f32(float(delta_cents - C.INVALID_PENALTY_CENTS * int(invalid))) * f32(C.REWARD_SCALE)
    )


def episode_return(s: RefState) -> float:
    """Return of the episode so far from integers (equals the sum of step rewards up to
    float32 rounding of the sum)."""
    total = net_worth(s) - C.START_NET_WORTH_CENTS - C.INVALID_PENALTY_CENTS * s.n_invalid
    return f32(f32(float(total)) * f32(C.REWARD_SCALE))


# ---- the env ----


class ReferenceEnv:
    """One Caravan env in plain Python, with the same auto-reset seeds as the JAX env.

    `step` does not auto-reset: after terminated or truncated call `reset()` (which starts the
    next episode of this env, seeded from the base seed, env index and episode count) or
    `reset(seed)` for a new base seed.
    """

    def __init__(self, seed: int, env_index: int = 0) -> None:
        if not 0 <= seed <= C.MASK32:
            raise ValueError(f"seed must be a uint32, got {seed}")
        self.base_seed = seed
        self.env_index = env_index
        self.state = initial_state(seed, env_index, 0)
        self._started = False

    def reset(self, seed: int | None = None) -> tuple[list[float], dict[str, Any]]:
        """Start an episode: the first one, the next one of this env, or one from a new seed."""
        if seed is not None:
            if not 0 <= seed <= C.MASK32:
                raise ValueError(f"seed must be a uint32, got {seed}")
            self.base_seed = seed
            self.state = initial_state(seed, self.env_index, 0)
        elif self._started:
            self.state = initial_state(self.base_seed, self.env_index, self.state.episode + 1)
        self._started = True
        return observation(self.state), {"episode": self.state.episode}

    def action_mask(self) -> list[bool]:
        return action_mask(self.state)

    def step(self, action: int) -> tuple[list[float], float, bool, bool, dict[str, Any]]:
        """One day: (obs, reward, terminated, truncated, info)."""
        self._started = True
        r = step_state(self.state, int(action))
        done = r.terminated or r.truncated
        info: dict[str, Any] = {
            "invalid": r.invalid,
            "action_kind": r.action_kind,
            "episode_done": done,
            "net_worth": net_worth(self.state),
            "bandit_attack": r.bandit_attack,
            "medicine_used": r.medicine_used,
            "starved": r.starved,
            "trade_units": r.trade_units,
            "trade_cash": r.trade_cash,
        }
        if done:
            info.update(episode_info(self.state))
        return observation(self.state), r.reward, r.terminated, r.truncated, info


def episode_info(s: RefState) -> dict[str, Any]:
    """episode_* info fields of a finished (or running) episode."""
    return {
        "episode_return": episode_return(s),
        "episode_profit": f32(
            f32(float(net_worth(s) - C.START_NET_WORTH_CENTS)) * f32(C.PROFIT_SCALE)
        ),
        "episode_survived": s.health > 0,
        "episode_invalid": s.n_invalid,
        "episode_length": s.day,
    }


# ---- conversion for parity tests ----

STATE_FIELDS = (
    "base_seed",
    "env_index",
    "episode",
    "ep_seed",
    "day",
    "town",
    "cash",
    "health",
    "cargo",
    "price",
    "base",
    "seen",
    "seen_day",
    "n_invalid",
)


_FLAT = ("price", "base", "seen")  # [8][12] lists here, flat int32[96] in the JAX state


def to_jax_state(s: RefState) -> Any:
    """The `envjax.EnvState` holding the same integers."""
    import jax.numpy as jnp

    from envjax.state import EnvState

    u32 = ("base_seed", "ep_seed")
    vals = {}
    for f in STATE_FIELDS:
        v = jnp.asarray(getattr(s, f), dtype=jnp.uint32 if f in u32 else jnp.int32)
        vals[f] = v.reshape(-1) if f in _FLAT else v
    return EnvState(**vals)


def from_jax_state(state: Any) -> RefState:
    """A RefState from a single (unbatched) `envjax.EnvState`."""
    import numpy as np

    vals = {}
    for f in STATE_FIELDS:
        v = np.asarray(getattr(state, f))
        vals[f] = (v.reshape(C.N_TOWNS, C.N_GOODS) if f in _FLAT else v).tolist()
    return RefState(**vals)


def clone(s: RefState) -> RefState:
    return copy.deepcopy(s)
