"""`reference` mode: the plain-Python env, one env, random valid actions."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from profiler.stats import cpu_block, peak_rss_bytes, summarize, time_repeats


def run(spec: dict, progress: Callable[[str], None]) -> dict:
    """Step `ReferenceEnv` `reference_steps` times per repeat; resets count as steps' cost."""
    from envjax import action_mask_from_obs
    from envjax.reference import ReferenceEnv

    steps = int(spec["reference_steps"])
    rng = random.Random(spec["seed"])
    env = ReferenceEnv(spec["seed"], env_index=0)
    obs0, _ = env.reset()
    holder: dict[str, Any] = {"obs": obs0, "episodes": 0}

    def call() -> None:
        # Like env-only, the policy reads the mask from obs[0:69] rather than recomputing it.
        obs = holder["obs"]
        for _ in range(steps):
            mask = action_mask_from_obs(obs)
            action = rng.choice([a for a, valid in enumerate(mask) if valid])
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                holder["episodes"] += 1
                obs, _ = env.reset()
        holder["obs"] = obs

    progress(f"reference: {steps} steps per repeat")
    timed = time_repeats(call, spec["repeats"], spec["warmup"], progress)
    return {
        "mode": "reference",
        "num_envs": 1,
        "rollout_steps": None,
        "updates_per_window": None,
        "steps_per_call": steps,
        "steps_per_sec": summarize([steps / s for s in timed.seconds]),
        "call_seconds": summarize(timed.seconds),
        "compile_s": None,
        "cpu": cpu_block(timed, steps),
        "peak_rss_bytes": peak_rss_bytes(),
        "network": None,
        "memory_traffic": None,
        "details": {
            "episodes_finished": holder["episodes"],
            "policy": "uniform random valid action",
        },
    }
