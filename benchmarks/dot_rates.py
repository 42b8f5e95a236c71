"""The rate of each matmul of one PPO update at the run's shapes, next to the matmul ceiling
measured in the same process.

    python -m benchmarks.dot_rates --num-envs 8192 [--set hidden=128] [--repeats 5]
        [--out artifacts/throughput/dot-rates.json]
    taskset -c 0 python -m benchmarks.dot_rates ...   # the same on one core

The dots are those of ppo.window's network (a trunk of `layers` x `hidden` ReLU layers, then
one [hidden, n_actions + 1] head), the first layer reading the STORED_OBS columns the window
stores:
- rollout: forward `x @ W` on [num_envs, in] rows, rollout_steps + 1 calls per update;
- update, per minibatch of rollout_steps * num_envs / minibatches rows, epochs x minibatches
  calls per update: forward `x @ W`, input gradient `dy @ W^T` (every layer but the first)
  and weight gradient `x^T @ dy` (contracting over the minibatch rows).

Each dot runs `calls` times in one jitted scan over distinct random operands (never zeros,
at most 32 per program), compiled first, run once untimed, then timed `--repeats` times;
medians. FLOPs are 2 * M * N * K per call. The rate is FLOPs per CPU-second (process CPU
time, which a shared box's load moves less than wall-clock), set against the ceiling's
2048^2 float32 matmul per CPU-second (mean of the readings before and after the dots).
"""

from __future__ import annotations

import itertools
import os
import statistics
from collections.abc import Callable
from typing import Any

from benchmarks import cli
from profiler.stats import time_calls
from profiler.xla_cost import xla_cost

MAX_STACK = 32  # distinct operands per timed program; bounds memory at big sizes


def dot_shapes(
    rows_rollout: int, rows_minibatch: int, in_dim: int, hidden: int, layers: int, out_dim: int
) -> list[dict]:
    """Every dot of one update as {name, kind, m, k, n}: a [m, k] @ [k, n] product.

    kind is "rollout", "forward", "input_grad" or "weight_grad"; for weight_grad m and n are
    the kernel's (in, out) and k the minibatch rows. Raises ValueError for a size below 1.
    """
    if min(rows_rollout, rows_minibatch, in_dim, hidden, layers, out_dim) < 1:
        raise ValueError("every size must be at least 1")
    dims = [in_dim] + [hidden] * layers + [out_dim]
    shapes = []
    for i, (a, b) in enumerate(itertools.pairwise(dims)):
        tag = f"layer {i} ({a} x {b})"
        shapes.append(
            {
                "name": f"rollout forward, {tag}",
                "kind": "rollout",
                "m": rows_rollout,
                "k": a,
                "n": b,
            }
        )
        shapes.append(
            {"name": f"forward, {tag}", "kind": "forward", "m": rows_minibatch, "k": a, "n": b}
        )
        if i > 0:  # the observations need no gradient
            shapes.append(
                {
                    "name": f"input gradient, {tag}",
                    "kind": "input_grad",
                    "m": rows_minibatch,
                    "k": b,
                    "n": a,
                }
            )
        shapes.append(
            {
                "name": f"weight gradient, {tag}",
                "kind": "weight_grad",
                "m": a,
                "k": rows_minibatch,
                "n": b,
            }
        )
    return shapes


def time_dot(shape: dict, calls: int, repeats: int, seed: int = 0) -> dict:
    """Time `calls` products of one shape in one scan; returns the row for the report."""
    import jax
    import jax.numpy as jnp

    m, k, n, kind = shape["m"], shape["k"], shape["n"], shape["kind"]
    ka, kb = jax.random.split(jax.random.PRNGKey(seed))
    # The operand that changes per call is the one that does in the update (activations or
    # their gradients); the other is fixed. Weight gradients read x [k, m] and dy [k, n].
    if kind == "weight_grad":
        xs = jax.random.normal(ka, (calls, k, m), jnp.float32)
        other = jax.random.normal(kb, (k, n), jnp.float32)
        dims = (((0,), (0,)), ((), ()))
    elif kind == "input_grad":
        xs = jax.random.normal(ka, (calls, m, k), jnp.float32)
        other = jax.random.normal(kb, (n, k), jnp.float32)  # W [in, out]: dy @ W^T
        dims = (((1,), (1,)), ((), ()))
    else:
        xs = jax.random.normal(ka, (calls, m, k), jnp.float32)
        other = jax.random.normal(kb, (k, n), jnp.float32)
        dims = (((1,), (0,)), ((), ()))

    def one(x: jax.Array, w: jax.Array) -> jax.Array:
        return jax.lax.dot_general(x, w, dims)

    def run(xs: jax.Array, w: jax.Array) -> jax.Array:
        # Summing each product keeps all of it alive at one add per output element.
        return jax.lax.scan(lambda c, x: (c + jnp.sum(one(x, w)), None), jnp.float32(0), xs)[0]

    compiled = jax.jit(run).lower(xs, other).compile()
    _walls, cpus = time_calls(lambda: jax.block_until_ready(compiled(xs, other)), repeats)
    xla_flops = xla_cost(jax.jit(one).lower(xs[0], other).compile()).get("flops")
    flops = 2.0 * m * k * n
    cpu = statistics.median(cpus) / calls
    return {
        **shape,
        "flops_per_call": flops,
        "xla_flops_per_call": xla_flops,
        "cpu_s_per_call": cpu,
        "cpu_samples_s": [c / calls for c in cpus],
        "flops_per_cpu_s": flops / cpu,
    }


def measure(tc: Any, repeats: int, say: Callable[[str], None]) -> dict:
    """Every dot of one update at TrainConfig `tc`, with the ceilings; the report dict."""
    from envjax import N_ACTIONS
    from ppo.window import STORED_OBS
    from profiler import ceiling as ceiling_mod

    say("ceiling (before)")
    ceil = ceiling_mod.measure("full", repeats)
    rows_mb = tc.rollout_steps * tc.num_envs // tc.minibatches
    shapes = dot_shapes(tc.num_envs, rows_mb, STORED_OBS, tc.hidden, tc.layers, N_ACTIONS + 1)
    per_update = {"rollout": tc.rollout_steps + 1}
    rows = []
    for s in shapes:
        calls = per_update.get(s["kind"], tc.epochs * tc.minibatches)
        say(s["name"])
        row = time_dot(s, min(calls, MAX_STACK), repeats)
        row["calls_per_update"] = calls
        row["cpu_s_per_update"] = row["cpu_s_per_call"] * calls
        rows.append(row)
    say("ceiling (after)")
    ceil_end = ceiling_mod.measure("full", repeats)
    peak = (ceil["matmul"]["flops_per_cpu_s"] + ceil_end["matmul"]["flops_per_cpu_s"]) / 2
    for r in rows:
        r["of_ceiling"] = r["flops_per_cpu_s"] / peak
    flops = sum(r["flops_per_call"] * r["calls_per_update"] for r in rows)
    cpu = sum(r["cpu_s_per_update"] for r in rows)
    return {
        "config": {
            k: getattr(tc, k)
            for k in ("num_envs", "rollout_steps", "epochs", "minibatches", "hidden", "layers")
        },
        "cpu_affinity": len(os.sched_getaffinity(0)),
        "load_average_start": list(os.getloadavg()),
        "ceiling": ceil,
        "ceiling_end": ceil_end,
        "ceiling_flops_per_cpu_s": peak,
        "dots": rows,
        "update_dense_flops": flops,
        "update_dense_cpu_s": cpu,
        "update_flops_per_cpu_s": flops / cpu,
        "update_of_ceiling": flops / cpu / peak,
    }


def table(r: dict) -> str:
    """The report as a Markdown table plus one summary line."""
    lines = [
        f"matmul ceiling {r['ceiling_flops_per_cpu_s'] / 1e9:.1f} GFLOP per CPU-s (mean of "
        f"before / after); {r['cpu_affinity']} core(s); load {r['load_average_start'][0]:.1f}; "
        f"config {r['config']}",
        "",
        "| dot | [m, k] @ [k, n] | calls per update | GFLOP per CPU-s | of ceiling "
        "| CPU ms per update |",
        "|---|---|---|---|---|---|",
    ]
    for d in r["dots"]:
        lines.append(
            f"| {d['name']} | [{d['m']}, {d['k']}] @ [{d['k']}, {d['n']}] | "
            f"{d['calls_per_update']} | {d['flops_per_cpu_s'] / 1e9:.1f} | "
            f"{d['of_ceiling']:.0%} | {d['cpu_s_per_update'] * 1e3:,.0f} |"
        )
    lines += [
        "",
        f"all dots of one update: {r['update_dense_flops'] / 1e9:.1f} GFLOP in "
        f"{r['update_dense_cpu_s'] * 1e3:,.0f} CPU ms = {r['update_flops_per_cpu_s'] / 1e9:.1f} "
        f"GFLOP per CPU-s ({r['update_of_ceiling']:.0%} of the ceiling)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return cli.run_report("benchmarks.dot_rates", __doc__, measure, table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
