"""Trajectory helpers shared by the parity, property and golden tests.

`reference_rollout` plays an action plan in the reference env (resetting after each episode,
as the JAX env's auto-reset does); `jax_rollout` / `jax_rollout_batch` play the same actions
in one compiled scan; `first_divergence` names the first step and field where two
trajectories differ.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from envjax import constants as C
from envjax import reference as R
from envjax.env import CaravanEnv

INT_FIELDS = R.STATE_FIELDS
STEP_FIELDS = ("reward", "terminated", "truncated", "invalid", "action_kind", "episode_done")
EPISODE_FIELDS = (
    "episode_return",
    "episode_profit",
    "episode_survived",
    "episode_invalid",
    "episode_length",
)

# ---- action plans ----

STYLES = ("raw", "valid", "survive", "mixed")
_NO_SELL_PROVISIONS = {C.A_SELL1, C.A_SELL10, C.A_SELLALL}


def choose_action(style: str, choice: int, state: R.RefState) -> int:
    """Turn a drawn integer into an action: any action ("raw"), a valid one ("valid"), one
    that keeps the crew fed and mostly waits ("survive", reaches day 360), or a mix."""
    if style == "mixed":
        style = ("raw", "valid", "survive")[choice % 3]
        choice //= 3
    if style == "raw":
        return choice % C.N_ACTIONS
    mask = R.action_mask(state)
    if style == "survive":
        return _trader(choice, state, mask)
    valid = [a for a in range(C.N_ACTIONS) if mask[a]]
    return valid[choice % len(valid)]


def _trader(choice: int, s: R.RefState, mask: list[bool]) -> int:
    """A crude trader that keeps the crew fed and usually lives to day 360."""
    price = s.price[s.town]
    if s.cargo[C.PROVISIONS] < 6 and mask[C.A_BUY10 + C.PROVISIONS]:
        return C.A_BUY10 + C.PROVISIONS
    if s.cargo[C.PROVISIONS] < 3:  # no room or no money for food: sell the biggest lot
        g = max(range(1, C.N_GOODS), key=lambda g: s.cargo[g])
        if s.cargo[g]:
            return C.A_SELL10 + g if s.cargo[g] >= 10 else C.A_SELLALL + g
    free = C.CAPACITY - R.cargo_weight(s)
    for g in range(1, C.N_GOODS):
        if s.cargo[g] and price[g] * 100 >= 115 * C.GOOD_VALUE_CENTS[g]:
            return (C.A_SELL10 if s.cargo[g] >= 10 else C.A_SELLALL) + g
    ratio, g = min((price[g] * 1000 // C.GOOD_VALUE_CENTS[g], g) for g in range(1, C.N_GOODS))
    if ratio <= 750 and choice % 8:
        for a in (C.A_BUY10 + g, C.A_BUY1 + g):
            n = 10 if a >= C.A_BUY10 else 1
            room = free - n * C.GOOD_WEIGHT[g] >= 15
            if mask[a] and room and s.cash - R.buy_cost(price[g], n) >= 15000:
                return a
    roads = [t for t in range(C.N_TOWNS) if mask[C.A_TRAVEL + t]]
    safe = [t for t in roads if C.DANGER[s.town][t] <= 1] or roads
    return C.A_TRAVEL + safe[(choice >> 3) % len(safe)]


def expand_choices(prefix: Sequence[int], tail_seed: int, length: int) -> list[int]:
    """`prefix` then pseudo-random integers from `tail_seed`, `length` in all."""
    rng = random.Random(tail_seed)
    out = list(prefix[:length])
    out += [rng.getrandbits(16) for _ in range(length - len(out))]
    return out


# ---- reference side ----


def reference_rollout(
    seed: int, env_index: int, choices: Sequence[int], style: str
) -> dict[str, np.ndarray]:
    """Play len(choices) steps; after each step record what the JAX `step` returns (the next
    episode's first obs/state where an episode ended). Returns arrays with a leading T axis."""
    env = R.ReferenceEnv(seed, env_index)
    env.reset()
    rec: dict[str, list[Any]] = {k: [] for k in ("action", "obs", *INT_FIELDS, *STEP_FIELDS)}
    for k in EPISODE_FIELDS:
        rec[k] = []
    for choice in choices:
        a = choose_action(style, choice, env.state)
        obs, reward, term, trunc, info = env.step(a)
        done = term or trunc
        ep = R.episode_info(env.state)
        if done:
            obs, _ = env.reset()
        rec["action"].append(a)
        rec["obs"].append(obs)
        for f in INT_FIELDS:
            rec[f].append(copy.deepcopy(getattr(env.state, f)))
        rec["reward"].append(reward)
        rec["terminated"].append(term)
        rec["truncated"].append(trunc)
        rec["invalid"].append(info["invalid"])
        rec["action_kind"].append(info["action_kind"])
        rec["episode_done"].append(done)
        for k in EPISODE_FIELDS:
            rec[k].append(ep[k])
    out = {k: np.asarray(v) for k, v in rec.items()}
    out["obs"] = out["obs"].astype(np.float32)
    out["reward"] = out["reward"].astype(np.float32)
    return out


# ---- JAX side ----

_ENV = CaravanEnv()


def _rollout(seed: jax.Array, env_index: jax.Array, actions: jax.Array) -> dict[str, jax.Array]:
    _, state = _ENV.reset_from_seed(seed, None, env_index)
    key = jax.random.key(0)

    def body(state: Any, a: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        obs, state, reward, term, trunc, info = _ENV.step(key, state, a, None)
        out = {f: getattr(state, f) for f in INT_FIELDS}
        out.update(obs=obs, reward=reward, terminated=term, truncated=trunc)
        out.update(
            {k: info[k] for k in ("invalid", "action_kind", *EPISODE_FIELDS, "episode_done")}
        )
        return state, out

    _, traj = jax.lax.scan(body, state, actions)
    return traj


@jax.jit
@chex.assert_max_traces(n=1)
def _rollout_single(seed: jax.Array, env_index: jax.Array, actions: jax.Array) -> Any:
    return _rollout(seed, env_index, actions)


@jax.jit
@chex.assert_max_traces(n=2)  # the default and the --full batch size
def _rollout_batch(seeds: jax.Array, env_index: jax.Array, actions: jax.Array) -> Any:
    return jax.vmap(_rollout)(seeds, env_index, actions)


ROLLOUT_STEPS = 400  # plans are padded to this length so every rollout shares one compile


def _padded(actions: np.ndarray) -> tuple[jax.Array, int]:
    actions = np.asarray(actions, np.int32)
    n = actions.shape[-1]
    if n > ROLLOUT_STEPS:
        raise ValueError(f"at most {ROLLOUT_STEPS} actions per rollout, got {n}")
    pad = [(0, 0)] * (actions.ndim - 1) + [(0, ROLLOUT_STEPS - n)]
    return jnp.asarray(np.pad(actions, pad)), n


def jax_rollout(seed: int, env_index: int, actions: Sequence[int]) -> dict[str, np.ndarray]:
    """Single-env JAX trajectory of `actions` (at most ROLLOUT_STEPS; one compile)."""
    acts, n = _padded(np.asarray(actions))
    traj = _rollout_single(jnp.uint32(seed), jnp.int32(env_index), acts)
    return {k: np.asarray(v)[:n] for k, v in traj.items()}


def jax_rollout_batch(
    seeds: Sequence[int], env_indices: Sequence[int], actions: np.ndarray
) -> dict[str, np.ndarray]:
    """vmapped JAX trajectories: actions int[B, T]; arrays come back as [B, T, ...]
    (one compile per batch size)."""
    acts, n = _padded(np.asarray(actions))
    traj = _rollout_batch(jnp.asarray(seeds, jnp.uint32), jnp.asarray(env_indices, jnp.int32), acts)
    return {k: np.asarray(v)[:, :n] for k, v in traj.items()}


# ---- comparison ----


def first_divergence(
    ref: dict[str, np.ndarray], jx: dict[str, np.ndarray], obs_rtol: float = 1e-6
) -> str | None:
    """None when the trajectories agree; otherwise "step S: field F: reference X, jax Y" for
    the earliest step (and first field in state order at that step) that differs."""
    T = len(ref["action"])
    bad: dict[str, np.ndarray] = {}
    for f in (*INT_FIELDS, "terminated", "truncated", "invalid", "action_kind", "episode_done"):
        a = np.asarray(ref[f])
        b = np.asarray(jx[f]).astype(a.dtype).reshape(a.shape)  # JAX town-good tables are flat
        bad[f] = (a != b).reshape(T, -1).any(axis=1)
    bad["reward"] = np.abs(ref["reward"] - jx["reward"]) > 1e-6 * np.maximum(
        1.0, np.abs(ref["reward"])
    )
    tol = obs_rtol * np.maximum(1.0, np.abs(ref["obs"]))
    bad["obs"] = (np.abs(ref["obs"] - jx["obs"]) > tol).any(axis=1)
    done = ref["episode_done"].astype(bool)
    for f in EPISODE_FIELDS:
        a, b = ref[f].astype(np.float64), jx[f].astype(np.float64)
        bad[f] = done & (np.abs(a - b) > 1e-6 * np.maximum(1.0, np.abs(a)))
    first = min(
        ((int(np.argmax(m)), i, f) for i, (f, m) in enumerate(bad.items()) if m.any()),
        default=None,
    )
    if first is None:
        return None
    step, _, f = first
    r, j = ref[f][step], jx[f][step]
    if f == "obs":
        slot = int(np.argmax(np.abs(r - j) > obs_rtol * np.maximum(1.0, np.abs(r))))
        return f"step {step}: field obs[{slot}]: reference {r[slot]!r}, jax {j[slot]!r}"
    return (
        f"step {step} (action {int(ref['action'][step])}): field {f}: "
        f"reference {np.asarray(r).tolist()!r}, jax {np.asarray(j).tolist()!r}"
    )
