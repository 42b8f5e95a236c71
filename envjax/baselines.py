"""Baseline table: random valid actions vs the heuristic trader over N first episodes.

    python -m envjax.baselines --episodes 4096

Each of N envs (env index i of base seed --seed) plays its first episode; the metrics are
the info fields of that episode's last step (docs/ENV_SPEC.md section 7).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from envjax import constants as C
from envjax.env import CaravanEnv
from envjax.policies import heuristic_action, random_valid_action
from envjax.vec import reset_batch

POLICIES = ("random", "heuristic")


@dataclass(frozen=True)
class BaselineConfig:
    episodes: int = 4096
    seed: int = 20_260_101
    chunk: int = 40  # days per compiled call (progress output between calls)


def _play(policy: str, cfg: BaselineConfig) -> dict[str, np.ndarray]:
    env = CaravanEnv()
    obs, state = reset_batch(np.full(cfg.episodes, cfg.seed, np.uint32))
    step = jax.vmap(env.step, in_axes=(None, 0, 0, None))

    @jax.jit
    def run(obs, state, key, done, rec):
        def body(carry, _):
            obs, state, key, done, rec = carry
            key, k = jax.random.split(key)
            if policy == "random":
                act = jax.vmap(random_valid_action)(jax.random.split(k, cfg.episodes), obs)
            else:
                act = jax.vmap(heuristic_action, in_axes=(0, None))(state, None)
            obs, state, _, _, _, info = step(k, state, act, None)
            first = info["episode_done"] & ~done
            rec = {f: jnp.where(first, info[f], rec[f]) for f in rec}
            return (obs, state, key, done | info["episode_done"], rec), None

        return jax.lax.scan(body, (obs, state, key, done, rec), None, length=cfg.chunk)[0]

    fields = ("episode_return", "episode_profit", "episode_survived", "episode_invalid",
              "episode_length")  # fmt: skip
    rec = {f: jnp.zeros(cfg.episodes, jnp.float32) for f in fields}
    done = jnp.zeros(cfg.episodes, bool)
    carry = (obs, state, jax.random.key(cfg.seed), done, rec)
    for day in range(0, C.MAX_DAYS, cfg.chunk):
        carry = run(*carry)
        print(f"  {policy}: day {min(day + cfg.chunk, C.MAX_DAYS)}/{C.MAX_DAYS}", flush=True)
    assert bool(jnp.all(carry[3])), "every first episode ends by day 360"
    return {f: np.asarray(v) for f, v in carry[4].items()}


def summarise(rec: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean return, profit (and its quartiles), survival, invalid rate and length."""
    profit = rec["episode_profit"]
    return {
        "return": float(np.mean(rec["episode_return"])),
        "profit": float(np.mean(profit)),
        "profit_p25": float(np.percentile(profit, 25)),
        "profit_median": float(np.median(profit)),
        "profit_p75": float(np.percentile(profit, 75)),
        "survived": float(np.mean(rec["episode_survived"])),
        "invalid_rate": float(np.mean(rec["episode_invalid"] / rec["episode_length"])),
        "length": float(np.mean(rec["episode_length"])),
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=BaselineConfig.episodes)
    parser.add_argument("--seed", type=int, default=BaselineConfig.seed)
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    if args.episodes < 1 or not 0 <= args.seed < 2**32:
        parser.error("--episodes must be >= 1 and --seed a uint32")
    cfg = BaselineConfig(episodes=args.episodes, seed=args.seed)
    table = {}
    for policy in POLICIES:
        t0 = time.perf_counter()
        table[policy] = summarise(_play(policy, cfg))
        table[policy]["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(f"{args.episodes} episodes, base seed {args.seed}")
        print("| policy | return | profit (coins) | profit p25 / median / p75 | survived | "
              "invalid rate | length |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for p, r in table.items():
            print(
                f"| {p} | {r['return']:.2f} | {r['profit']:.1f} | "
                f"{r['profit_p25']:.0f} / {r['profit_median']:.0f} / {r['profit_p75']:.0f} | "
                f"{100 * r['survived']:.1f} % | {100 * r['invalid_rate']:.2f} % | "
                f"{r['length']:.1f} |"
            )
    return table


if __name__ == "__main__":
    main()
