"""Env throughput: N envs stepping with random valid actions, against the reference env.

    python -m envjax.bench [--num-envs 8192] [--steps 64] [--repeats 7] [--json out.json]

Each timed call is one compiled `lax.scan` of --steps batched steps (policy + step with
auto-reset); compile time is measured separately, the figure is the median over repeats
of steady-state env steps/s. The reference env (plain Python, one env) runs the same kind
of random valid actions for about --ref-seconds in the same process.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from envjax import constants as C
from envjax.argparser import OneLineParser

# Bytes one env holds on the device: its state (1268) and observation, input and output of
# a step (an estimate that errs high).
ENV_BYTES = 4 * (1300 + C.OBS_DIM * 4)


@dataclass(frozen=True)
class BenchConfig:
    num_envs: int = 8192
    steps: int = 64  # batched steps per compiled call
    repeats: int = 7
    warmup: int = 2
    ref_seconds: float = 3.0
    seed: int = 0


def _machine_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def check(cfg: BenchConfig) -> str | None:
    """The one-line error for a config out of bounds (or past this machine's memory)."""
    for flag, v, hi in (
        ("--num-envs", cfg.num_envs, 2**24),
        ("--steps", cfg.steps, 2**20),
        ("--repeats", cfg.repeats, 10_000),
    ):
        if not 1 <= v <= hi:
            return f"{flag} must be in [1, {hi}] (got {v})"
    if not (math.isfinite(cfg.ref_seconds) and 0 < cfg.ref_seconds <= 3600):
        return f"--ref-seconds must be a finite number > 0 and <= 3600 (got {cfg.ref_seconds})"
    if not 0 <= cfg.seed <= 2**32 - 1 - cfg.num_envs:
        return f"--seed must be in [0, 2**32 - 1 - --num-envs] (uint32 env seeds; got {cfg.seed})"
    need, have = cfg.num_envs * ENV_BYTES, _machine_memory()
    if have and need > have:
        return (
            f"--num-envs {cfg.num_envs} needs about {need / 2**30:,.1f} GiB, more than this "
            f"machine's {have / 2**30:,.1f} GiB"
        )
    return None


def json_path_error(path: str) -> str | None:
    """The one-line error when --json cannot be written (checked before the minutes of work:
    a missing folder or a directory was a traceback at the end)."""
    p = os.path.abspath(path)
    if os.path.isdir(p):
        return f"--json {path} is a directory; give a file path"
    if os.path.exists(p) and not os.path.isfile(p):
        return f"--json {path} is not a regular file"
    parent = os.path.dirname(p)
    if not os.path.isdir(parent):
        return f"--json {path}: folder {parent} does not exist"
    if not os.access(parent, os.W_OK):
        return f"--json {path}: folder {parent} is not writable"
    return None


def parse(argv: list[str] | None) -> tuple[BenchConfig, str | None]:
    """The command line as a checked BenchConfig and the --json path; exit 2 with one line."""
    parser = OneLineParser(description="Caravan env throughput (JAX vs reference).")
    d = BenchConfig()
    parser.add_argument("--num-envs", type=int, default=d.num_envs)
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--repeats", type=int, default=d.repeats)
    parser.add_argument("--ref-seconds", type=float, default=d.ref_seconds)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--json", type=str, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    cfg = BenchConfig(
        num_envs=args.num_envs,
        steps=args.steps,
        repeats=args.repeats,
        ref_seconds=args.ref_seconds,
        seed=args.seed,
    )
    err = check(cfg) or (json_path_error(args.json) if args.json else None)
    if err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2)
    return cfg, args.json


if __name__ == "__main__":  # check the command before importing jax: exit 2 in a second
    _PARSED = parse(sys.argv[1:])

import jax
import jax.numpy as jnp
import numpy as np

from envjax.env import CaravanEnv
from envjax.policies import random_valid_action
from envjax.reference import ReferenceEnv
from envjax.vec import reset_batch


def make_rollout(cfg: BenchConfig):
    """jit(obs, state, key) -> (obs, state, key, reward sum) over cfg.steps batched steps."""
    env = CaravanEnv()
    step = jax.vmap(env.step, in_axes=(None, 0, 0, None))
    policy = jax.vmap(random_valid_action)

    def body(carry, _):
        obs, state, key = carry
        key, k = jax.random.split(key)
        action = policy(jax.random.split(k, cfg.num_envs), obs)
        obs, state, reward, *_ = step(k, state, action, None)
        return (obs, state, key), jnp.sum(reward)

    @jax.jit
    def rollout(obs, state, key):
        (obs, state, key), rewards = jax.lax.scan(body, (obs, state, key), None, cfg.steps)
        return obs, state, key, jnp.sum(rewards)

    return rollout


def bench_jax(cfg: BenchConfig, log=print) -> dict[str, Any]:
    obs, state = reset_batch(np.arange(cfg.num_envs, dtype=np.uint32) + cfg.seed)
    key = jax.random.key(cfg.seed)
    rollout = make_rollout(cfg)
    t0 = time.perf_counter()
    compiled = rollout.lower(obs, state, key).compile()
    compile_s = time.perf_counter() - t0
    log(f"compiled in {compile_s:.2f} s")
    for _ in range(cfg.warmup):  # leave the synchronised start behind
        obs, state, key, total = compiled(obs, state, key)
    jax.block_until_ready(total)
    rates, cpu_rates = [], []
    n = cfg.num_envs * cfg.steps
    for i in range(cfg.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        obs, state, key, total = compiled(obs, state, key)
        jax.block_until_ready(total)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        rates.append(n / dt)
        cpu_rates.append(n / dc)
        log(f"repeat {i + 1}/{cfg.repeats}: {rates[-1]:,.0f} env steps/s "
            f"({cpu_rates[-1]:,.0f} per CPU-second)")  # fmt: skip
    return {
        "compile_s": compile_s,
        "steps_per_s_median": statistics.median(rates),
        "steps_per_s_all": rates,
        # env steps per second of this process's CPU time (all threads): a load-independent
        # view when the machine is shared; wall-clock is the figure that counts
        "steps_per_cpu_s_median": statistics.median(cpu_rates),
        "episodes_started": int(jnp.sum(state.episode)) + cfg.num_envs,
    }


def bench_reference(cfg: BenchConfig) -> dict[str, Any]:
    rng = random.Random(cfg.seed)
    env = ReferenceEnv(cfg.seed)
    env.reset()
    steps = 0
    t0 = time.perf_counter()
    while (dt := time.perf_counter() - t0) < cfg.ref_seconds:
        for _ in range(100):
            mask = env.action_mask()
            valid = [a for a in range(C.N_ACTIONS) if mask[a]]
            _, _, term, trunc, _ = env.step(rng.choice(valid))
            steps += 1
            if term or trunc:
                env.reset()
    return {"steps_per_s": steps / dt, "steps": steps}


def main(
    argv: list[str] | None = None, parsed: tuple[BenchConfig, str | None] | None = None
) -> dict[str, Any]:
    cfg, json_path = parsed or parse(argv)
    print(f"device {jax.devices()[0].device_kind}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    jx = bench_jax(cfg)
    ref = bench_reference(cfg)
    result = {
        "config": asdict(cfg),
        "backend": jax.default_backend(),
        "device": jax.devices()[0].device_kind,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "jax": jx,
        "reference": ref,
        "speedup_vs_reference": jx["steps_per_s_median"] / ref["steps_per_s"],
    }
    print(
        f"JAX: {jx['steps_per_s_median']:,.0f} env steps/s (median of {cfg.repeats}, "
        f"{cfg.num_envs} envs x {cfg.steps} steps per call), compile {jx['compile_s']:.2f} s, "
        f"{jx['steps_per_cpu_s_median']:,.0f} env steps per CPU-second\n"
        f"reference: {ref['steps_per_s']:,.0f} env steps/s; "
        f"ratio {result['speedup_vs_reference']:,.0f}x"
    )
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main(parsed=_PARSED)
