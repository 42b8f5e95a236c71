"""ppo's compiled window against the textbook peer loop (benchmarks.peer), alternated.

Both programs are compiled first, then called in turns (ppo, peer, ppo, peer, ...) in one
process, so the load of a shared machine falls on both alike; the ratio of the medians is the
figure to quote. Each call runs `updates_per_window` PPO updates at the same num_envs,
geometry, network, optimiser and masking. `python -m benchmarks.vs_peer --num-envs 8192`
prints the figures; the profiler's `--vs-peer` stores them in its report.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def ppo_window(tc: Any) -> tuple[Callable[[], None], float, Any]:
    """(call, compile seconds, derived sizes) for ppo's window program at TrainConfig `tc`."""
    import jax

    from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
    from ppo.window import init_runner, make_mesh, make_window_fn

    der = tc.derived(jax.device_count())
    env = CaravanEnv()
    mesh = make_mesh(der.num_devices)
    runner = init_runner(tc, der, env, env.default_params, mesh, OBS_DIM, N_ACTIONS)
    t0 = time.perf_counter()
    fn = make_window_fn(tc, der, env, env.default_params, mesh, runner, N_ACTIONS)
    fn = fn.lower(runner).compile()
    compile_s = time.perf_counter() - t0
    box = {"r": runner}

    def call() -> None:
        box["r"], stats = fn(box["r"])
        jax.block_until_ready((box["r"], stats))

    return call, compile_s, der


def peer_loop(tc: Any) -> tuple[Callable[[], None], float]:
    """(call, compile seconds) for the peer loop at the same config."""
    import jax

    from benchmarks.peer import PeerConfig, compiled

    state, fn, compile_s = compiled(PeerConfig.from_train_config(tc))
    box = {"s": state}

    def call() -> None:
        box["s"], metrics = fn(box["s"])
        jax.block_until_ready((box["s"], metrics))

    return call, compile_s


def alternate(
    tc: Any, repeats: int, warmup: int = 1, progress: Callable[[str], None] | None = None
) -> dict:
    """Time ppo's window and the peer loop in turns; medians, per-CPU-second rates, ratio."""
    say = progress or (lambda _m: None)
    ppo_call, ppo_compile, der = ppo_window(tc)
    say(f"ppo window compiled in {ppo_compile:.1f} s")
    peer_call, peer_compile = peer_loop(tc)
    say(f"peer loop compiled in {peer_compile:.1f} s")
    for _ in range(warmup):
        ppo_call()
        peer_call()
    steps = der.steps_per_window * tc.num_seeds
    samples: dict[str, list[tuple[float, float]]] = {"ppo": [], "peer": []}
    load_start = os.getloadavg()
    for i in range(repeats):
        for name, call in (("ppo", ppo_call), ("peer", peer_call)):
            c0, t0 = time.process_time(), time.perf_counter()
            call()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            samples[name].append((wall, cpu))
            say(f"round {i + 1}/{repeats} {name}: {steps / wall:,.0f} steps/s")

    def side(name: str, compile_s: float) -> dict:
        walls = [w for w, _ in samples[name]]
        cpus = [c for _, c in samples[name]]
        return {
            "steps_per_call": steps,
            "call_seconds": walls,
            "cpu_seconds": cpus,
            "steps_per_sec_p50": steps / statistics.median(walls),
            "steps_per_cpu_s_p50": steps / statistics.median(cpus),
            "compile_s": compile_s,
        }

    ppo, peer = side("ppo", ppo_compile), side("peer", peer_compile)
    return {
        "num_envs": tc.num_envs,
        "rollout_steps": tc.rollout_steps,
        "updates_per_window": tc.updates_per_window,
        "epochs": tc.epochs,
        "minibatches": tc.minibatches,
        "hidden": tc.hidden,
        "layers": tc.layers,
        "action_masking": tc.action_masking,
        "repeats": repeats,
        "order": "alternating ppo, peer",
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "ppo": ppo,
        "peer": peer,
        "ratio": ppo["steps_per_sec_p50"] / peer["steps_per_sec_p50"],
        "ratio_per_cpu_s": ppo["steps_per_cpu_s_p50"] / peer["steps_per_cpu_s_p50"],
    }


def main(argv: list[str] | None = None) -> int:
    from ppo.config import TrainConfig

    p = argparse.ArgumentParser(prog="python -m benchmarks.vs_peer", description=__doc__)
    p.add_argument("--num-envs", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = p.parse_args(argv)
    kw: dict[str, Any] = {}
    for item in a.set:
        k, _, v = item.partition("=")
        kw[k] = type(getattr(TrainConfig, k))(v) if v not in ("true", "false") else v == "true"
    tc = TrainConfig(num_envs=a.num_envs, **kw)
    out = alternate(tc, a.repeats, progress=lambda m: print(m, flush=True))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
