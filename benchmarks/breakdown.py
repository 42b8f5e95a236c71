"""Where one PPO update's time goes: ppo.window's own pieces (`ppo.window.make_parts`), each
jitted and timed alone at the run's sizes, next to the machine's matmul and copy ceilings
measured in the same process.

    python -m benchmarks.breakdown --num-envs 8192 [--set epochs=1 --set hidden=64]
        [--repeats 3] [--out artifacts/throughput/breakdown.json]

Each phase is one compiled program that runs the piece as often as one update does (T env
steps, E minibatches...), with inputs taken from a real rollout (never zeros), compiled
first, run once untimed, then timed `--repeats` times with `block_until_ready`; medians are
reported. FLOPs and bytes are XLA's cost analysis of one call of the piece times the calls
per update (XLA counts a loop body once, so loops are analysed by their body). "dense FLOPs"
are the network's matmul FLOPs in the phase as the program runs them: 2 * in * out per sample
and layer forward; backward the weight gradients of every layer (= forward) plus the input
gradients of every layer but the first (the observations need none, and XLA computes none).
`matmul-bound s` = dense FLOPs / measured matmul ceiling: the time the phase would take if
only its matmuls cost anything. The ceiling is measured before and after the phases; their
mean per CPU-second is used.

The last phase is the window program itself (`ppo.window.make_window_fn`, K =
updates_per_window updates per call, runner donated, as training runs it), per update. The
non-matmul share is taken from it: 1 - matmul-bound time / window time per update. The
phases that own the observation buffer (the whole rollout, the whole update) donate it and pass
each call's output to the next call, as the window does, and GAE leaves out the flat
observations (a reshape of that buffer in the window): otherwise they would time 0.5 GB
copies the window never makes. The smaller pieces still return fresh outputs.

Two more phases run the network alone (its matmuls, biases and ReLUs; per call also one
product with a fixed random cotangent, the sums that keep outputs alive and a plain parameter
step) at the window's shapes and call counts: the rollout's forward passes and the update's
forward + backward passes. Their time estimates a floor under the window's at XLA's current
code for these matmuls: `non_matmul_share_floor` = 1 - matmul-bound / dense-alone time is
about the least share a change outside the dense layers could reach, and `..._floor_with_env`
adds the env step's time. An estimate, not a bound: it has its own timing noise.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

from benchmarks import cli
from profiler.stats import time_calls
from profiler.xla_cost import xla_cost

ENV_STEP_PHASE = "rollout: env step (+ auto-reset, obs)"


def _cost(compiled: Any) -> tuple[float | None, float | None]:
    """(FLOPs, bytes accessed) by XLA's estimate; None where the backend gives none."""
    ca = xla_cost(compiled)
    return ca.get("flops"), ca.get("bytes accessed")


def _time(fn: Callable[[], Any], repeats: int) -> tuple[list[float], list[float]]:
    """(wall seconds, process CPU seconds) of each timed call of `fn`, after one untimed one."""
    import jax

    return time_calls(lambda: jax.block_until_ready(fn()), repeats)


def measure(tc: Any, repeats: int, say: Callable[[str], None]) -> dict:
    """Time every phase of one update at TrainConfig `tc`; returns the breakdown dict."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
    from ppo.network import with_input_width
    from ppo.window import (
        STORED_OBS,
        Carry,
        init_runner,
        make_mesh,
        make_network,
        make_parts,
        make_window_fn,
        obs_buffer,
    )
    from profiler import ceiling as ceiling_mod
    from profiler.modes.trainer import dense_layers, forward_backward_flops, forward_flops

    say("ceiling (before)")
    ceil = ceiling_mod.measure("full", repeats)

    der = tc.derived(1)
    if der.num_devices != 1 or tc.num_seeds != 1:
        raise SystemExit("breakdown: one device and one seed only")
    env = CaravanEnv()
    mesh = make_mesh(1)
    runner = init_runner(tc, der, env, env.default_params, mesh, OBS_DIM, N_ACTIONS)
    one = jax.tree.map(lambda x: x[0], runner)
    parts = make_parts(tc, der, env, env.default_params, N_ACTIONS)
    t_len, n_mb, epochs = tc.rollout_steps, tc.minibatches, tc.epochs
    key = jax.random.PRNGKey(7)

    # Real inputs: a few updates first, so params, obs and env states are not initial.
    carry = Carry(
        one.params,
        one.opt_state,
        one.env_state,
        one.obs,
        one.rng[0],
        one.update,
        obs_buffer(tc, tc.num_envs),
    )
    warm = jax.jit(lambda c: jax.lax.scan(parts.update, c, None, length=2)[0])
    say("warming: 2 updates")
    carry = jax.block_until_ready(warm(carry))
    params, opt_state = carry.params, carry.opt_state
    (_, _, _), traj = jax.jit(parts.rollout)(
        params, carry.env_state, carry.obs, key, obs_buffer(tc, tc.num_envs)
    )
    flat, _ = jax.jit(parts.advantages)(params, traj, carry.obs)
    idx = jax.jit(parts.shuffle)(key)
    mbs = jax.jit(jax.vmap(parts.gather, in_axes=(None, 0)))(flat, idx)
    logits_t = jax.jit(jax.vmap(lambda o: parts.policy(params, o)[0]))(traj.obs)
    (_, _), g = jax.jit(parts.grads)(params, jax.tree.map(lambda x: x[0], mbs))
    keys_t = jax.random.split(key, t_len)

    def scan_sum(body: Callable, xs: Any) -> Callable:
        """Run body over xs under lax.scan, keeping a float sum of outputs alive."""

        def run(xs):
            def step(c, x):
                out = body(x)
                return c + sum(jnp.sum(y.astype(jnp.float32)) for y in jax.tree.leaves(out)), None

            return jax.lax.scan(step, jnp.float32(0), xs)[0]

        return run

    phases: list[dict] = []
    # Forward matmul FLOPs per sample as the window does them: its first layer reads only the
    # stored observation columns (ppo.window.STORED_OBS), not all OBS_DIM.
    layers = dense_layers(with_input_width(params, STORED_OBS))
    net_f = forward_flops(layers)
    # Backward: weight gradients (= forward) + input gradients of all layers but the first.
    fwd_bwd_f = forward_backward_flops(layers)
    e, batch = tc.num_envs, tc.num_envs * t_len
    update_dense = net_f * (e * t_len + e) + fwd_bwd_f * epochs * batch

    def phase(
        name: str,
        group: str,
        whole: Callable,
        args: tuple,
        body: Callable | None,
        body_args: tuple,
        calls: int,
        dense: float,
        scale: int = 1,
        thread: tuple[int, Callable[[Any], Any]] | None = None,
    ) -> None:
        """`whole(*args)` runs the piece as one update does (x `scale`); `body` is one call.

        thread=(i, next_arg): argument i is donated and each call's `next_arg(output)` is the
        next call's, as the window threads its carry. Without it, a piece that returns an
        updated copy of a big input (the obs buffer) would time a copy the window never makes.
        """
        say(f"phase {name}")
        if thread is None:
            compiled = jax.jit(whole).lower(*args).compile()
            secs, cpus = _time(lambda: compiled(*args), repeats)
        else:
            i, next_arg = thread
            held = list(args)
            held[i] = jax.tree.map(jnp.copy, held[i])  # donated: never the caller's arrays
            compiled = jax.jit(whole, donate_argnums=i).lower(*held).compile()

            def call() -> Any:
                out = compiled(*held)
                held[i] = next_arg(out)
                return out

            secs, cpus = _time(call, repeats)
        f1, b1 = _cost(jax.jit(body).lower(*body_args).compile()) if body else _cost(compiled)
        flops = None if f1 is None else f1 * calls
        nbytes = None if b1 is None else b1 * calls
        s = statistics.median(secs) * scale
        phases.append(
            {
                "phase": name,
                "group": group,
                "seconds_per_update": s,
                "cpu_seconds_per_update": statistics.median(cpus) * scale,
                "samples_s": [x * scale for x in secs],
                "xla_flops": None if flops is None else flops * scale,
                "xla_bytes": None if nbytes is None else nbytes * scale,
                "dense_flops": dense * scale,
            }
        )

    env_state0, obs0 = carry.env_state, carry.obs
    actions = traj.action

    # --- rollout pieces (T calls each) ---
    def env_only(state, acts):
        def step(st, xs):
            k, a = xs
            _o, st, r, d, _info = parts.env_step(k, st, a)
            return st, jnp.sum(r) + jnp.sum(d)

        return jax.lax.scan(step, state, (keys_t, acts))

    phase(
        ENV_STEP_PHASE,
        "rollout",
        env_only,
        (env_state0, actions),
        lambda st, a: parts.env_step(key, st, a),
        (env_state0, actions[0]),
        t_len,
        0.0,
    )
    phase(
        "rollout: policy forward (+ mask)",
        "rollout",
        scan_sum(lambda o: parts.policy(params, o), traj.obs),
        (traj.obs,),
        lambda o: parts.policy(params, o),
        (traj.obs[0],),
        t_len,
        net_f * e * t_len,
    )
    phase(
        "rollout: sampling + log-prob",
        "rollout",
        scan_sum(lambda xs: parts.act(xs[0], xs[1]), (logits_t, keys_t)),
        ((logits_t, keys_t),),
        lambda lg, k: parts.act(lg, k),
        (logits_t[0], key),
        t_len,
        0.0,
    )
    phase(
        "rollout: whole (as in the window)",
        "rollout-total",
        parts.rollout,
        (params, env_state0, obs0, key, obs_buffer(tc, e)),
        None,
        (),
        1,
        net_f * e * t_len,
        thread=(4, lambda out: out[1].obs),
    )

    # --- GAE ---
    def gae_scalars(p, tr, o):
        # Without the flat obs: in the window that reshape reuses the buffer, standalone it
        # would be a 0.5 GB output copy.
        (_flat_obs, scalars), ev = parts.advantages(p, tr, o)
        return scalars, ev

    phase(
        "GAE (+ bootstrap value, flatten)",
        "gae",
        gae_scalars,
        (params, traj, obs0),
        None,
        (),
        1,
        net_f * e,
    )
    # --- update pieces (x epochs) ---
    phase(
        "update: shuffle (permutation)",
        "update",
        lambda k: parts.shuffle(k),
        (key,),
        None,
        (),
        1,
        0.0,
        scale=epochs,
    )
    phase(
        "update: gather minibatches",
        "update",
        scan_sum(lambda i: parts.gather(flat, i), idx),
        (idx,),
        lambda i: parts.gather(flat, i),
        (idx[0],),
        n_mb,
        0.0,
        scale=epochs,
    )

    def fwd_bwd(p, mb):
        def step(c, x):
            (_, _parts), gr = parts.grads(p, x)
            return c + sum(jnp.sum(y) for y in jax.tree.leaves(gr)), None

        return jax.lax.scan(step, jnp.float32(0), mb)[0]

    phase(
        "update: forward + backward",
        "update",
        fwd_bwd,
        (params, mbs),
        lambda p, mb: parts.grads(p, mb),
        (params, jax.tree.map(lambda x: x[0], mbs)),
        n_mb,
        fwd_bwd_f * batch,
        scale=epochs,
    )

    def optimiser(p, s, gr):
        def step(c, _):
            p, s = c
            p, s, _n = parts.apply(p, s, gr)
            return (p, s), None

        return jax.lax.scan(step, (p, s), None, length=n_mb)[0]

    phase(
        "update: optimiser (clip + Adam)",
        "update",
        optimiser,
        (params, opt_state, g),
        lambda p, s, gr: parts.apply(p, s, gr),
        (params, opt_state, g),
        n_mb,
        0.0,
        scale=epochs,
    )
    # --- the dense layers alone: an estimate of the floor under the non-matmul share ---
    # The network (matmuls, biases, ReLUs, the heads' split) at the window's shapes and call
    # counts, on real observations, with nothing else: no env, masking, sampling, gather or
    # loss. A window runs all of this and more, so 1 - matmul-bound / this time is about the
    # least non-matmul share a change outside the dense layers could reach (timing noise
    # aside).
    net = make_network(tc, N_ACTIONS)
    p_in = with_input_width(params, STORED_OBS)

    def fwd_sum(p, o):
        logits, value = net.apply(p, o)
        return jnp.sum(logits) + jnp.sum(value)

    def dense_rollout(p, obs_t, o_last):
        def step(c, o):
            return c + fwd_sum(p, o), None

        return jax.lax.scan(step, fwd_sum(p, o_last), obs_t)[0]

    phase(
        "dense layers alone: rollout forward + bootstrap value",
        "dense-alone",
        dense_rollout,
        (p_in, traj.obs, traj.obs[-1]),
        fwd_sum,
        (p_in, traj.obs[0]),
        t_len + 1,
        net_f * e * (t_len + 1),
    )
    # A fixed random cotangent stands in for the loss: its gradient is every layer's weight
    # gradient and every input gradient but the observations', as in the update.
    cot = jax.random.normal(key, (*mbs[0].shape[1:-1], N_ACTIONS + 1), jnp.float32)

    def dense_grads(p, o):
        def surrogate(p):
            logits, value = net.apply(p, o)
            return jnp.sum(logits * cot[..., :-1]) + jnp.sum(value * cot[..., -1])

        # The value is kept: the gradient of a linear head alone does not need the head's
        # forward matmul, and XLA would drop it.
        return jax.value_and_grad(surrogate)(p)

    def dense_update(p, mb_obs):
        def step(c, o):
            p, acc = c
            # Each minibatch's params depend on the last one's gradient, as in the update,
            # so the calls stay a chain that XLA cannot hoist or merge.
            v, grads_o = dense_grads(p, o)
            return (jax.tree.map(lambda w, gw: w - 1e-6 * gw, p, grads_o), acc + v), None

        return jax.lax.scan(step, (p, jnp.float32(0)), mb_obs)[0]

    phase(
        "dense layers alone: update forward + backward",
        "dense-alone",
        dense_update,
        (p_in, mbs[0]),
        dense_grads,
        (p_in, mbs[0][0]),
        n_mb,
        fwd_bwd_f * batch,
        scale=epochs,
    )
    # --- the whole update, as the window runs it ---
    phase(
        "whole update (as in the window)",
        "total",
        lambda c: parts.update(c, None),
        (carry,),
        None,
        (),
        1,
        update_dense,
        thread=(0, lambda out: out[0]),
    )
    # --- the window program itself, per update ---
    k_win = tc.updates_per_window
    say(f"phase window ({k_win} updates per call)")
    win = make_window_fn(tc, der, env, env.default_params, mesh, runner, N_ACTIONS)
    held = {"runner": win(runner)[0]}  # compile + one untimed call; `runner` is donated

    def window_call() -> Any:
        held["runner"], stats = win(held["runner"])
        return stats

    w_secs, w_cpus = _time(window_call, repeats)
    phases.append(
        {
            "phase": f"window program ({k_win} updates per call), per update",
            "group": "window",
            "seconds_per_update": statistics.median(w_secs) / k_win,
            "cpu_seconds_per_update": statistics.median(w_cpus) / k_win,
            "samples_s": [x / k_win for x in w_secs],
            "xla_flops": None,
            "xla_bytes": None,
            "dense_flops": update_dense,
        }
    )
    runner = held["runner"]
    say("ceiling (after)")
    ceil_end = ceiling_mod.measure("full", repeats)
    # Per CPU-second ceilings: the phases are compared with them in CPU time, which a
    # shared machine's load moves much less than wall-clock time. The mean of the readings
    # before and after the phases: one reading alone moved 141-201 GFLOP/s run to run.
    peak_flops = (ceil["matmul"]["flops_per_cpu_s"] + ceil_end["matmul"]["flops_per_cpu_s"]) / 2
    peak_bytes = (ceil["copy"]["bytes_per_cpu_s"] + ceil_end["copy"]["bytes_per_cpu_s"]) / 2
    for p in phases:
        p["matmul_bound_cpu_s"] = p["dense_flops"] / peak_flops
        p["copy_bound_cpu_s"] = None if p["xla_bytes"] is None else p["xla_bytes"] / peak_bytes
    # --- host: what ppo.train fetches per window ---
    say("phase host")
    host_stats = _time(lambda: jax.device_get(runner.update), repeats)[0]
    host_runner = _time(lambda: jax.tree.map(np.asarray, jax.device_get(runner)), repeats)[0]
    runner_bytes = sum(x.nbytes for x in jax.tree.leaves(runner))

    whole = next(p for p in phases if p["group"] == "total")
    window = next(p for p in phases if p["group"] == "window")
    roll = next(p for p in phases if p["group"] == "rollout-total")
    parts_sum = sum(
        p["cpu_seconds_per_update"] for p in phases if p["group"] in ("rollout", "gae", "update")
    )
    for p in phases:
        p["share_of_update"] = p["cpu_seconds_per_update"] / whole["cpu_seconds_per_update"]
    nonmatmul = 1.0 - window["matmul_bound_cpu_s"] / window["cpu_seconds_per_update"]
    dense_phases = [p for p in phases if p["group"] == "dense-alone"]
    dense_cpu = sum(p["cpu_seconds_per_update"] for p in dense_phases)
    dense_bound = sum(p["matmul_bound_cpu_s"] for p in dense_phases)
    env_phase = next(p for p in phases if p["phase"] == ENV_STEP_PHASE)
    return {
        "config": {
            k: getattr(tc, k)
            for k in (
                "num_envs",
                "rollout_steps",
                "epochs",
                "minibatches",
                "updates_per_window",
                "hidden",
                "layers",
                "action_masking",
            )
        },
        "backend": jax.default_backend(),
        "load_average_start": list(os.getloadavg()),
        "ceiling": ceil,
        "ceiling_end": ceil_end,
        "ceiling_used": {"flops_per_cpu_s": peak_flops, "bytes_per_cpu_s": peak_bytes},
        "phases": phases,
        "rollout_pieces_sum_cpu_s": sum(
            p["cpu_seconds_per_update"] for p in phases if p["group"] == "rollout"
        ),
        "rollout_whole_cpu_s": roll["cpu_seconds_per_update"],
        "pieces_sum_cpu_s": parts_sum,
        "update_cpu_s": whole["cpu_seconds_per_update"],
        "window_update_cpu_s": window["cpu_seconds_per_update"],
        "window_update_s": window["seconds_per_update"],
        "update_s": whole["seconds_per_update"],
        "env_steps_per_s": batch / window["seconds_per_update"],
        "env_steps_per_cpu_s": batch / window["cpu_seconds_per_update"],
        "non_matmul_share": nonmatmul,
        "dense_alone_cpu_s": dense_cpu,
        "dense_alone_flops_per_cpu_s": sum(p["dense_flops"] for p in dense_phases) / dense_cpu,
        # About the least share a change outside the dense layers could reach: all else free
        # ("floor"), or all else free but the env's own steps ("floor with the env").
        "non_matmul_share_floor": 1.0 - dense_bound / dense_cpu,
        "non_matmul_share_floor_with_env": 1.0
        - dense_bound / (dense_cpu + env_phase["cpu_seconds_per_update"]),
        "non_matmul_share_standalone_update": 1.0
        - whole["matmul_bound_cpu_s"] / whole["cpu_seconds_per_update"],
        "host": {
            "stats_fetch_s": statistics.median(host_stats),
            "runner_fetch_s_per_window": statistics.median(host_runner),
            "runner_bytes": runner_bytes,
        },
    }


def table(b: dict) -> str:
    """The breakdown as a Markdown table (CPU milliseconds per update) plus summary lines."""
    c, c2 = b["ceiling"], b["ceiling_end"]
    mm, cp = b["ceiling_used"]["flops_per_cpu_s"], b["ceiling_used"]["bytes_per_cpu_s"]

    def g(x: float | None) -> str:
        return "-" if x is None else f"{x / 1e9:,.2f}"

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1e3:,.0f}"

    lines = [
        f"ceilings (same run, before / after the phases): matmul "
        f"{c['matmul']['flops_per_sec']['p50'] / 1e9:.1f} / "
        f"{c2['matmul']['flops_per_sec']['p50'] / 1e9:.1f} GFLOP/s wall, mean "
        f"{mm / 1e9:.1f} GFLOP per CPU-s; copy {c['copy']['bytes_per_sec']['p50'] / 1e9:.1f} / "
        f"{c2['copy']['bytes_per_sec']['p50'] / 1e9:.1f} GB/s wall, mean {cp / 1e9:.1f} GB per "
        f"CPU-s; load {b['load_average_start'][0]:.1f}; config {b['config']}",
        "",
        "| phase | CPU ms / update | share | wall ms | dense GFLOP | matmul-bound CPU ms "
        "| XLA GFLOP | XLA GB | copy-bound CPU ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in b["phases"]:
        lines.append(
            f"| {p['phase']} | {ms(p['cpu_seconds_per_update'])} | {p['share_of_update']:.1%} | "
            f"{ms(p['seconds_per_update'])} | {g(p['dense_flops'])} | "
            f"{ms(p['matmul_bound_cpu_s'])} | {g(p['xla_flops'])} | {g(p['xla_bytes'])} | "
            f"{ms(p['copy_bound_cpu_s'])} |"
        )
    h = b["host"]
    lines += [
        "",
        f"CPU time: rollout pieces sum {ms(b['rollout_pieces_sum_cpu_s'])} ms vs whole rollout "
        f"{ms(b['rollout_whole_cpu_s'])} ms; all pieces {ms(b['pieces_sum_cpu_s'])} ms vs whole "
        f"update {ms(b['update_cpu_s'])} ms; window program {ms(b['window_update_cpu_s'])} ms "
        f"per update: {b['env_steps_per_cpu_s']:,.0f} env steps per CPU-s "
        f"({b['env_steps_per_s']:,.0f} per wall s); non-matmul share of the window "
        f"{b['non_matmul_share']:.1%} (of the standalone update "
        f"{b['non_matmul_share_standalone_update']:.1%})",
        f"dense layers alone: {ms(b['dense_alone_cpu_s'])} CPU ms per update at "
        f"{b['dense_alone_flops_per_cpu_s'] / 1e9:.1f} GFLOP per CPU-s "
        f"({b['dense_alone_flops_per_cpu_s'] / mm:.0%} of the ceiling); the least non-matmul "
        f"share with everything else free {b['non_matmul_share_floor']:.1%}, with only the env "
        f"step added {b['non_matmul_share_floor_with_env']:.1%}",
        f"host per window: stats fetch {h['stats_fetch_s'] * 1e3:.2f} ms; full runner fetch "
        f"{h['runner_fetch_s_per_window'] * 1e3:.1f} ms ({h['runner_bytes'] / 1e6:.0f} MB)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return cli.run_report("benchmarks.breakdown", __doc__, measure, table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
