"""Caravan game constants and the integer hash (plain Python; docs/ENV_SPEC.md is normative).

Both envs import these values: the reference (`envjax.reference`) uses them as Python ints,
the JAX env (`envjax.env`) turns them into constant arrays once at import.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# ---- frozen sizes ----
OBS_DIM = 260
N_ACTIONS = 69
N_TOWNS = 8
N_GOODS = 12
MAX_DAYS = 360

# ---- goods: fair value V (cents) and weight ----
GOOD_NAMES = (
    "Provisions",
    "Salt",
    "Timber",
    "Wool",
    "Iron",
    "Wine",
    "Cloth",
    "Tea",
    "Spice",
    "Medicine",
    "Silk",
    "Gems",
)
GOOD_VALUE_CENTS = (800, 2000, 2400, 3000, 4000, 6000, 7000, 9000, 12000, 14000, 18000, 40000)
GOOD_WEIGHT = (1, 1, 3, 2, 3, 2, 1, 1, 1, 1, 1, 1)
PROVISIONS = 0
MEDICINE = 9
CAPACITY = 100

# ---- caravan ----
START_CASH_CENTS = 50_000
START_PROVISIONS = 10
START_HEALTH = 100
MAX_HEALTH = 100
FED_HEALTH_GAIN = 3
STARVE_HEALTH_LOSS = 15
MEDICINE_THRESHOLD = 50  # a dose is used when health < this after eating
MEDICINE_HEAL = 30
START_NET_WORTH_CENTS = START_CASH_CENTS + START_PROVISIONS * GOOD_VALUE_CENTS[PROVISIONS]

# ---- bandits ----
BANDIT_PCT_PER_DANGER = 6  # attack probability per road day = danger * 6 %
BANDIT_THRESHOLD_PER_DANGER = BANDIT_PCT_PER_DANGER * 65536  # attack iff h16 * 100 < danger * this
BANDIT_CASH_TENTHS = 3  # loss = (cash // 10) * 3
BANDIT_HEALTH_LOSS = 25

# ---- market ----
MULT_OTHER_LO, MULT_OTHER_SPAN = 500, 1301  # per-mille multiplier of ordinary towns: 500..1800
MULT_PROD_LO, MULT_PROD_SPAN = 500, 201  # producer: 500..700
MULT_CONS_LO, MULT_CONS_SPAN = 1400, 401  # consumer: 1400..1788 (5 random bits)
PRICE_PULL_SHIFT = 3  # each day price += (base - price) >> 3  (1/8 of the gap, floored)
NOISE_DIV = 50  # noise amplitude = max(1, base // 50)  (about 2 % of base)
SHOCK_MASK = 511  # shock iff ((h >> 16) & 511) == 0  (1 in 512)
SHOCK_MIN_PCT = 20
SHOCK_SPAN_PCT = 31  # magnitude = 20 + (((h >> 26) & 63) * 31 >> 6): 20..50 %
PRICE_CAP_MULT = 5  # prices are clipped to [1, 5 * V]
PRICE_CAP_CENTS = tuple(PRICE_CAP_MULT * v for v in GOOD_VALUE_CENTS)
IMPACT_DIV = 100  # per-unit price step d = max(1, price // 100)
SELL_NUM, SELL_DEN = 9, 10  # selling pays (gross * 9) // 10


def lot_cost(price: Any, units: Any, step: Any) -> Any:
    """Cents to buy `units` at `price` when unit k (0-based) costs `price + k * step`.

    The one definition of the buy cost (docs/ENV_SPEC.md): the reference passes Python ints,
    the JAX env and the heuristic policy int32 arrays (`step` is the impact step,
    max(1, price // IMPACT_DIV)); integer arithmetic only, so both agree exactly.
    """
    return units * price + step * ((units * (units - 1)) >> 1)


# ---- reward ----
# reward = float32(delta_cents - 1000 * invalid) * float32(1e-4): delta coins / 100 and -0.1
# per invalid action; a float32 product of two float32 values is rounded identically by XLA
# and by the reference (a division by a constant would not be: XLA turns it into a product)
REWARD_SCALE = 1e-4
PROFIT_SCALE = 1e-2
INVALID_PENALTY_CENTS = 1_000

# ---- towns and roads ----
TOWN_NAMES = (
    "Brindle",
    "Carrow",
    "Dunmere",
    "Ashford",
    "Eastmarch",
    "Fenwick",
    "Gallowby",
    "Holloway",
)
# map coordinates in [0, 1]; y grows downwards as on a screen
TOWN_XY = (
    (0.10, 0.70),
    (0.30, 0.88),
    (0.22, 0.38),
    (0.50, 0.60),
    (0.52, 0.18),
    (0.74, 0.84),
    (0.80, 0.46),
    (0.94, 0.14),
)
# (town a, town b, danger 0..3), a < b
ROADS = (
    (0, 1, 2),
    (0, 2, 1),
    (1, 3, 0),
    (1, 5, 3),
    (2, 3, 1),
    (2, 4, 2),
    (3, 5, 1),
    (3, 6, 2),
    (4, 6, 1),
    (4, 7, 3),
    (5, 6, 0),
    (6, 7, 2),
)
NO_ROAD = -1
DANGER = tuple(
    tuple(
        next((d for a, b, d in ROADS if {a, b} == {i, j}), NO_ROAD) if i != j else NO_ROAD
        for j in range(N_TOWNS)
    )
    for i in range(N_TOWNS)
)

# ---- actions (docs/INTERFACES.md section 3): the one table of the action layout ----
KIND_WAIT, KIND_TRAVEL, KIND_BUY, KIND_SELL = 0, 1, 2, 3
ACTION_KIND_NAMES = ("wait", "travel", "buy", "sell")  # index: KIND_*; the eval action mix


class ActionGroup(NamedTuple):
    """A run of consecutive actions that differ only in their town or good."""

    name: str  # stable id, used by the website's generated layout
    kind: int  # KIND_*
    first: int  # first action id; the group is first .. first + size - 1
    size: int  # 1 (wait), N_TOWNS (travel) or N_GOODS (trades)
    lot: int  # units per trade: 1, 10 or -1 (all held); 0 for wait and travel
    label: str  # "{}" is the town or good name


ACTION_GROUPS = (
    ActionGroup("wait", KIND_WAIT, 0, 1, 0, "Wait"),
    ActionGroup("travel", KIND_TRAVEL, 1, N_TOWNS, 0, "Travel to {}"),
    ActionGroup("buy1", KIND_BUY, 9, N_GOODS, 1, "Buy 1 {}"),
    ActionGroup("buy10", KIND_BUY, 21, N_GOODS, 10, "Buy 10 {}"),
    ActionGroup("sell1", KIND_SELL, 33, N_GOODS, 1, "Sell 1 {}"),
    ActionGroup("sell10", KIND_SELL, 45, N_GOODS, 10, "Sell 10 {}"),
    ActionGroup("sellall", KIND_SELL, 57, N_GOODS, -1, "Sell all {}"),
)
A_WAIT, A_TRAVEL, A_BUY1, A_BUY10, A_SELL1, A_SELL10, A_SELLALL = (g.first for g in ACTION_GROUPS)


def _labels() -> tuple[str, ...]:
    labels: list[str] = []
    for group in ACTION_GROUPS:
        names = TOWN_NAMES if group.kind == KIND_TRAVEL else GOOD_NAMES
        labels += [group.label.format(names[i]) for i in range(group.size)]
    return tuple(labels)


def action_layout() -> dict[str, Any]:
    """The action layout as JSON-ready data (the website's web/lib/action-layout.json)."""
    return {
        "n_actions": N_ACTIONS,
        "kinds": list(ACTION_KIND_NAMES),
        "groups": [group._asdict() for group in ACTION_GROUPS],
    }


ACTION_LABELS = _labels()


def decode_action(action: int) -> tuple[int, int, int]:
    """(kind, target, lot) of an action: target is the town or good; lot is 1, 10 or -1 (all)."""
    if action == A_WAIT:
        return KIND_WAIT, 0, 0
    if action < A_BUY1:
        return KIND_TRAVEL, action - A_TRAVEL, 0
    if action < A_SELL1:
        return KIND_BUY, (action - A_BUY1) % N_GOODS, 1 if action < A_BUY10 else 10
    lot = 1 if action < A_SELL10 else (10 if action < A_SELLALL else -1)
    return KIND_SELL, (action - A_SELL1) % N_GOODS, lot


# ---- hashing ----
MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B1
SEED_SALT = 0x5EED5EED


def fmix32(h: int) -> int:
    """murmur3's 32-bit finaliser on a uint32 (a bijection of [0, 2**32))."""
    h &= MASK32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    h ^= h >> 16
    return h


# Counter slots hashed each day / at reset: h = fmix32(day_key ^ IDX_KEY[i]).
SLOT_PRICE = 0  # 0..95: town t, good g at t * 12 + g (daily tick)
SLOT_BANDIT = 96  # daily bandit roll
SLOT_GOOD = 96  # 96..107 at reset: producer/consumer of good g at 96 + g
SLOT_START = 108  # at reset: start town
N_SLOTS = 109
IDX_KEY = tuple(fmix32((i + 1) * 0x85EBCA77) for i in range(N_SLOTS))


def episode_seed(base_seed: int, env_index: int, episode: int) -> int:
    """Seed of episode `episode` (0, 1, ...) of env `env_index` started from `base_seed`."""
    s = fmix32(fmix32((base_seed ^ SEED_SALT) & MASK32) ^ (env_index & MASK32))
    return fmix32(s + episode * GOLDEN)


def day_key(ep_seed: int, day: int) -> int:
    """Key of one day's hashes; day -1 is the reset draw."""
    return fmix32(ep_seed + (day + 1) * GOLDEN)


# ---- observation layout (docs/ENV_SPEC.md section 8) ----
OBS_MASK = slice(0, 69)
OBS_PRICE_HERE = slice(69, 81)
OBS_SEEN = slice(81, 177)
OBS_AGE = slice(177, 185)
OBS_TOWN = slice(185, 193)
OBS_DANGER = slice(193, 201)
OBS_CARGO = slice(201, 213)
OBS_HEALTH = 215
OBS_BEST_ELSEWHERE = slice(225, 237)
OBS_RESERVED = slice(237, 260)


def action_mask_from_obs(obs: Any) -> Any:
    """bool[..., 69]: the valid-action mask an observation carries in its first 69 entries.

    `obs` is float32[..., 260] as a NumPy or JAX array (the result is the same kind), or the
    reference env's list[float] (the result is list[bool]). The one reader of the mask for
    policies that see only observations (the trainer's rollout and eval, the replay route,
    the baselines, the profiler): entries are exactly 0.0 or 1.0, so 0.5 splits them exactly.
    """
    if isinstance(obs, list | tuple):
        return [x > 0.5 for x in obs[OBS_MASK]]
    return obs[..., OBS_MASK] > 0.5


def _obs_bounds() -> tuple[tuple[float, ...], tuple[float, ...]]:
    low, high = [0.0] * OBS_DIM, [1.0] * OBS_DIM
    for sl in (OBS_PRICE_HERE, OBS_SEEN, OBS_BEST_ELSEWHERE):
        high[sl] = [float(PRICE_CAP_MULT)] * (sl.stop - sl.start)
    high[OBS_RESERVED] = [0.0] * (OBS_RESERVED.stop - OBS_RESERVED.start)
    # only the terminal obs of step_env (no auto-reset) can show health <= 0
    low[OBS_HEALTH] = -0.4
    return tuple(low), tuple(high)


OBS_LOW, OBS_HIGH = _obs_bounds()
