"""Per-window evaluation on fixed seeds: full episodes, greedy and sampled policy.

Episode i starts from `CaravanEnv.reset_from_seed(seed_base + i)`; the seeds and the
sampling keys are the same every window, so windows are comparable. A sampled action
depends only on its own episode: day t of the episode from `seed` draws with
`episode_step_key(seed_base, seed, t)` through `sample_one`, so the same seed scores the same
episode whatever else is evaluated with it.

Recomputing an episode one row at a time does not reproduce it bit for bit: XLA rounds a
batched matmul differently from a one-row one (and differently per CPU and backend), so a
near-tie in the logits or the sampler's CDF can pick another action. The evaluation therefore
records the actions it played (`actions`, per episode and day) and the eval document keeps
those of its replay episodes (`replays[].actions`): a replay (analytics_service) steps the
env with them, and the env's step is exact, so it reproduces the scored episode on any
machine. The compiled part returns per-episode arrays; the host builds the eval document
(histograms with fixed bins, action mix, replay seeds and their scored episodes).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envjax.constants import action_mask_from_obs
from ppo.metrics import EVAL_KEYS, KIND_NAMES, finite_or_none
from ppo.network import ActorCritic, apply_mask, sample_actions

N_BINS = 20
# Fixed histogram ranges for every run: the first bin [-10000, 0) coins holds every losing
# episode (a dead caravan ends at net worth 0, profit -580), then 10,000-coin bins up to
# 190,000; values beyond the edges fall in the end bins.
PROFIT_EDGES = np.linspace(-10_000.0, 190_000.0, N_BINS + 1)
RETURN_EDGES = PROFIT_EDGES / 100.0  # return = profit / 100 - 0.1 per invalid action

# How eval/<w>.json says its sampled actions were drawn (docs/RUN_RECORDS.md).
SAMPLE_KEY_DERIVATION = "fold_in(fold_in(PRNGKey(seeds.base), seed), day)"
SAMPLER = "ppo.network.sample_actions on the episode's masked logits, one row"


def episode_step_key(seed_base: int, seed: Any, t: Any) -> jax.Array:
    """PRNG key of the sampled action on day `t` (0-based) of the eval episode from the
    uint32 `seed`: `fold_in(fold_in(PRNGKey(seed_base), seed), t)`. Pure; jit/vmap-able."""
    base = jax.random.PRNGKey(seed_base)
    return jax.random.fold_in(jax.random.fold_in(base, jnp.asarray(seed, jnp.uint32)), t)


def sample_one(logits: jax.Array, key: jax.Array) -> jax.Array:
    """One sampled action (int32 scalar) from float32 `logits[A]` with `key`: exactly
    what the evaluation draws for one episode (`sample_actions` on a one-row batch)."""
    return sample_actions(logits[None], key)[0]


def eval_env_steps(n_episodes: int, max_steps: int) -> int:
    """Env steps one evaluation runs: a greedy and a sampled half of `n_episodes` envs each,
    stepped for `max_steps` days (finished episodes keep stepping, masked out)."""
    return 2 * int(n_episodes) * int(max_steps)


def make_eval_fn(
    net: ActorCritic,
    env: Any,
    env_params: Any,
    *,
    n_episodes: int,
    seed_base: int,
    max_steps: int,
    n_actions: int,
    masking: bool,
) -> jax.stages.Wrapped:
    """Jitted `eval(params_batched) -> per-episode arrays [S, 2n]` (greedy half first).

    Besides the episode statistics (`done`, `ret`, `profit`, `survived`, `length`,
    `invalid`, `kinds` [S, 2n, 4]) it returns `actions`: uint8 [S, 2n, max_steps], the
    action each episode played on each day (days after its end: the actions the finished
    env was still stepped with, not part of the episode).
    """
    seeds = (seed_base + np.arange(n_episodes)).astype(np.uint32)
    # Host (numpy) constants, not jax arrays: lowering embeds a closed-over jax array by
    # waiting for its value, and a 3-seed run hung for good in that wait on an eagerly
    # computed one (stack from `kill -USR1`, docs/TRAINING.md). numpy needs no device.
    greedy = np.arange(2 * n_episodes) < n_episodes
    all_seeds = np.concatenate([seeds, seeds])

    def one(params: Any) -> dict[str, jax.Array]:
        obs, state = jax.vmap(env.reset_from_seed, in_axes=(0, None))(all_seeds, env_params)
        m = 2 * n_episodes
        zf, zi = jnp.zeros(m, jnp.float32), jnp.zeros(m, jnp.int32)
        acc0 = dict(
            done=jnp.zeros(m, bool),
            ret=zf,
            profit=zf,
            survived=jnp.zeros(m, bool),
            length=zi,
            invalid=zi,
            kinds=jnp.zeros((m, len(KIND_NAMES)), jnp.int32),
        )

        def body(carry: tuple, t: jax.Array) -> tuple[tuple, jax.Array]:
            obs, state, acc = carry
            logits, _ = net.apply(params, obs)
            if masking:
                logits = apply_mask(logits, action_mask_from_obs(obs))
            # Each episode draws with its own key (seed, day): replayable one seed at a time.
            keys = jax.vmap(episode_step_key, in_axes=(None, 0, None))(seed_base, all_seeds, t)
            sampled = jax.vmap(sample_one)(logits, keys)
            action = jnp.where(greedy, jnp.argmax(logits, -1), sampled)
            # The env's step is deterministic (the key is unused): any key will do.
            obs, state, _, _, _, info = jax.vmap(env.step, in_axes=(None, 0, 0, None))(
                keys[0], state, action.astype(jnp.int32), env_params
            )
            live = ~acc["done"]
            first = live & info["episode_done"]
            onehot = jax.nn.one_hot(info["action_kind"], 4, dtype=jnp.int32)
            acc = dict(
                done=acc["done"] | info["episode_done"],
                ret=jnp.where(first, info["episode_return"], acc["ret"]),
                profit=jnp.where(first, info["episode_profit"], acc["profit"]),
                survived=jnp.where(first, info["episode_survived"], acc["survived"]),
                length=jnp.where(first, info["episode_length"], acc["length"]),
                invalid=jnp.where(first, info["episode_invalid"], acc["invalid"]),
                kinds=acc["kinds"] + onehot * live[:, None].astype(jnp.int32),
            )
            # (uint8: N_ACTIONS = 69; the replay steps the env with these, section above)
            return (obs, state, acc), action.astype(jnp.uint8)

        days = jnp.arange(max_steps, dtype=jnp.uint32)
        (_, _, acc), actions = jax.lax.scan(body, (obs, state, acc0), days)
        return {**acc, "actions": actions.T}

    return jax.jit(jax.vmap(one))


def _hist(values: np.ndarray, edges: np.ndarray) -> dict[str, list]:
    clipped = np.clip(values, edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges)
    return {"bin_edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def eval_document(
    acc: dict[str, np.ndarray],
    window_id: int,
    env_steps: int,
    seed_base: int,
    policy: str = "sampled",
) -> dict[str, Any]:
    """The eval/<window_id>.json document from one seed's per-episode arrays.

    `acc` holds the greedy episodes first, then the sampled ones (same seeds). Top-level
    statistics, histograms, action mix and replay seeds are those of `policy`; `replays`
    gives the best, median and worst episode of that policy as scored (seed, return,
    profit, survived, length and, when `acc` has `actions` [2n, T], the `length` actions
    it played as ints) and `sample_key` how its sampled actions were drawn.
    """
    n = len(acc["ret"]) // 2
    halves = {
        "greedy": {k: v[:n] for k, v in acc.items()},
        "sampled": {k: v[n:] for k, v in acc.items()},
    }
    seeds = seed_base + np.arange(n)

    def stats(d: dict[str, np.ndarray]) -> dict[str, Any]:
        done = d["done"]
        steps = max(int(np.sum(d["kinds"])), 1)
        invalid = int(np.sum(d["invalid"][done]))
        return {
            "return_mean": finite_or_none(np.mean(d["ret"][done])) if done.any() else None,
            "profit_mean": finite_or_none(np.mean(d["profit"][done])) if done.any() else None,
            "survival_rate": float(np.mean(d["survived"] & done)),
            "invalid_action_rate": float(invalid / steps),
        }

    g = halves[policy]
    gs = stats(g)
    done = g["done"]
    order = np.argsort(g["ret"], kind="stable")
    ranked = {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}
    replay = [int(seeds[i]) for i in ranked.values()]
    replays = [
        {
            "rank": rank,
            "seed": int(seeds[i]),
            "return": finite_or_none(g["ret"][i]) if done[i] else None,
            "profit": finite_or_none(g["profit"][i]) if done[i] else None,
            "survived": bool(g["survived"][i]) if done[i] else None,
            "length": int(g["length"][i]) if done[i] else None,
        }
        | _played(g, i)
        for rank, i in ranked.items()
    ]
    kinds = np.sum(g["kinds"], axis=0).astype(np.float64)
    total = max(float(kinds.sum()), 1.0)
    return {
        "window_id": window_id,
        "env_steps": env_steps,
        "policy": policy,
        "episodes": n,
        "seeds": {"base": seed_base, "count": n},
        "return_mean": gs["return_mean"],
        "return_std": finite_or_none(np.std(g["ret"][done], ddof=1)) if done.sum() > 1 else None,
        "return_p10": finite_or_none(np.percentile(g["ret"], 10)),
        "return_p90": finite_or_none(np.percentile(g["ret"], 90)),
        "profit_mean": gs["profit_mean"],
        "survival_rate": gs["survival_rate"],
        "invalid_action_rate": gs["invalid_action_rate"],
        "episode_length_mean": finite_or_none(np.mean(g["length"][done])) if done.any() else None,
        "histograms": {
            "return": _hist(g["ret"], RETURN_EDGES),
            "profit": _hist(g["profit"], PROFIT_EDGES),
        },
        "action_mix": {k: float(c / total) for k, c in zip(KIND_NAMES, kinds, strict=True)},
        "replay_seeds": list(dict.fromkeys(replay)),
        "replays": replays,
        "sample_key": {"derivation": SAMPLE_KEY_DERIVATION, "sampler": SAMPLER},
        "sampled": stats(halves["sampled"]),
        "greedy": stats(halves["greedy"]),
    }


def _played(g: dict[str, np.ndarray], i: int) -> dict[str, list[int]]:
    # The actions episode i played, for an exact replay (module docstring); none when the
    # arrays lack them or the episode did not end within the evaluation.
    if "actions" not in g or not g["done"][i]:
        return {}
    return {"actions": [int(a) for a in g["actions"][i][: int(g["length"][i])]]}


def eval_window_metrics(doc: dict[str, Any] | None) -> dict[str, Any]:
    """The eval/* keys of a window row from its eval document."""
    if doc is None:
        return dict.fromkeys(EVAL_KEYS)
    return {
        "eval/return_mean": doc["return_mean"],
        "eval/return_p10": doc["return_p10"],
        "eval/return_p90": doc["return_p90"],
        "eval/profit_mean": doc["profit_mean"],
        "eval/survival_rate": doc["survival_rate"],
        "eval/invalid_action_rate": doc["invalid_action_rate"],
    }
