"""`env-only` mode: vmapped JAX env stepping with random valid actions, no network.

One timed call runs `rollout_steps * updates_per_window` batched steps under one `lax.scan`
(the env work of one trainer window), with the carry donated between calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from profiler.stats import cpu_block, peak_rss_bytes, summarize, time_repeats
from profiler.xla_cost import xla_cost


def run(spec: dict, progress: Callable[[str], None]) -> dict:
    """Compile, warm up and time the env-only window; see the module docstring."""
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np

    from envjax import CaravanEnv, vec

    random_valid_action, policy_name = _policy()

    num_envs = int(spec["num_envs"])
    length = int(spec["rollout_steps"]) * int(spec["updates_per_window"])
    env = CaravanEnv()
    params = env.default_params

    # Distinct non-trivial seeds per env, so no two envs replay the same episode.
    seeds = jnp.asarray(
        (np.arange(num_envs, dtype=np.uint64) * 2654435761 + spec["seed"] + 1) % (2**32),
        dtype=jnp.uint32,
    )
    obs, states = vec.reset_batch(seeds, params)
    act = jax.vmap(random_valid_action)
    variant = spec.get("env_variant") or "auto-reset"
    if variant == "no-reset":
        # Diagnostic: the step without the auto-reset's fresh state and select.
        stepper = jax.vmap(env.step_env, in_axes=(None, 0, 0, None))
        step_batch = lambda st, a, p: stepper(jax.random.PRNGKey(0), st, a, p)
    elif variant == "full-info":
        step_batch = lambda st, a, p: vec.step_batch(st, a, p, full_info=True)
    else:
        step_batch = vec.step_batch

    def window(carry):
        def body(c, _):
            key, obs, states = c
            key, k_act = jax.random.split(key)
            actions = act(jax.random.split(k_act, num_envs), obs)
            obs, states, reward, terminated, truncated, info = step_batch(states, actions, params)
            # Reduce to scalars so the outputs stay live without a per-step host transfer.
            # Every info field is consumed, as a trainer consumes them: unused fields would be
            # dead code to XLA and their cost would not show.
            done = jnp.sum(terminated | truncated, dtype=jnp.int32)
            info_sum = sum(jnp.sum(x.astype(jnp.float32)) for x in jax.tree_util.tree_leaves(info))
            return (key, obs, states), (jnp.sum(reward) + info_sum, done)

        carry, (rewards, dones) = jax.lax.scan(body, carry, None, length=length)
        return carry, (jnp.sum(rewards), jnp.sum(dones))

    carry = (jax.random.PRNGKey(spec["seed"]), obs, states)
    t0 = time.perf_counter()
    compiled = jax.jit(window, donate_argnums=0).lower(carry).compile()
    compile_s = time.perf_counter() - t0
    progress(f"env-only: {num_envs} envs x {length} steps compiled in {compile_s:.1f} s")

    holder: dict[str, Any] = {"carry": carry, "episodes": 0}

    def call() -> None:
        c, (_, dones) = compiled(holder["carry"])
        jax.block_until_ready(c)
        holder["carry"] = c
        holder["episodes"] += int(dones)

    timed = time_repeats(call, spec["repeats"], spec["warmup"], progress)
    steps = num_envs * length
    rates = summarize([steps / s for s in timed.seconds])
    return {
        "mode": "env-only",
        "num_envs": num_envs,
        "rollout_steps": int(spec["rollout_steps"]),
        "updates_per_window": int(spec["updates_per_window"]),
        "steps_per_call": steps,
        "steps_per_sec": rates,
        "call_seconds": summarize(timed.seconds),
        "compile_s": compile_s,
        "cpu": cpu_block(timed, steps),
        "peak_rss_bytes": peak_rss_bytes(),
        "network": None,
        "memory_traffic": memory_traffic(holder["carry"], num_envs, compiled, rates["p50"]),
        "details": {
            "episodes_finished": holder["episodes"],
            "policy": policy_name,
            "env_variant": variant,
        },
    }


def _policy():
    """envjax's random valid-action policy (it reads the mask from the observation)."""
    from envjax.policies import random_valid_action

    return random_valid_action, "envjax.policies.random_valid_action"


def memory_traffic(carry, num_envs: int, compiled, steps_per_sec: float) -> dict:
    """Bytes per env step: the state+obs lower bound and XLA's own estimate.

    XLA's cost analysis counts a loop body once, so for this single-scan program it describes
    one batched step; dividing by num_envs gives per-env-step figures.
    """
    import jax

    _, obs, states = carry
    state_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(states)) / num_envs
    obs_bytes = obs.nbytes / num_envs
    # Each step at least reads and writes the state, writes obs, and reads it for the action.
    lower_bound = 2.0 * state_bytes + 2.0 * obs_bytes
    xla = xla_cost(compiled)
    xla_bytes = xla.get("bytes accessed")
    xla_flops = xla.get("flops")
    return {
        "state_bytes_per_env": state_bytes,
        "obs_bytes_per_env": obs_bytes,
        "min_bytes_per_env_step": lower_bound,
        "min_bytes_per_sec": lower_bound * steps_per_sec,
        "xla_bytes_per_env_step": None if xla_bytes is None else xla_bytes / num_envs,
        "xla_flops_per_env_step": None if xla_flops is None else xla_flops / num_envs,
        "xla_bytes_per_sec": None if xla_bytes is None else xla_bytes / num_envs * steps_per_sec,
    }
