"""`trainer` and `trainer+eval` modes: `ppo.train`'s own training loop, timed from inside.

The profiler runs `ppo.train.train(cfg)` itself (records in a throwaway run folder, W&B
disabled) through its public seam (ppo.events): the trainer reports each program's compile
time and, per window, its phase timings, which `profiler.modes.probe` collects. One timed
sample is one window's full cycle as the trainer runs it: from the start of the window's
compiled call to its `WindowDone` event (compute, metric fetch, eval, records, checkpoint,
progress line).

- `trainer`: eval off (`eval_episodes=0`) and checkpoints off (`checkpoint_every=0`).
- `trainer+eval`: the loop unchanged: per-window eval on the trainer's fixed seeds and
  a checkpoint every window.
Compile time is the window program's lowering + compilation, as ppo.train measures it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable

from profiler.config import ConfigError
from profiler.modes.probe import TrainProbe
from profiler.stats import TimedRepeats, cpu_block, peak_rss_bytes, summarize

# Each env step costs one forward pass in the rollout and, per epoch, one forward and one
# backward pass in the update; plus one bootstrap value per update. Backward = the weight
# gradients of every layer (= forward) and the input gradients of every layer but the one
# that reads the observations, which need none (XLA computes none).
FORMULA = (
    "F * (1 + 1/rollout_steps) + epochs * (3 * F - F0), F = sum over dense layers of "
    "2 * in * out, F0 = the same for the input layer"
)


def forward_flops(layer_shapes: list[list[int]]) -> float:
    """Matmul FLOPs of one sample's forward pass: F = sum of 2 * in * out over the dense
    kernels' (in, out) shapes."""
    return float(sum(2 * i * o for i, o in layer_shapes))


def forward_backward_flops(layer_shapes: list[list[int]]) -> float:
    """Matmul FLOPs of one sample's forward and backward pass in the update, from the dense
    kernels' (in, out) shapes with the input layer first: 3 F - F0 (see FORMULA)."""
    return 3.0 * forward_flops(layer_shapes) - 2.0 * layer_shapes[0][0] * layer_shapes[0][1]


def network_flops(layer_shapes: list[list[int]], epochs: int, rollout_steps: int) -> dict:
    """FLOPs of the network per env step from its dense kernels' (in, out) shapes, the
    input layer first (`network_layers`' order).

    Counts matmul FLOPs only (2 per multiply-add); biases and activations add < 1 %.
    Raises ValueError for an empty list.
    """
    if not layer_shapes:
        raise ValueError("no dense kernels found in the trainer's params")
    fwd = forward_flops(layer_shapes)
    return {
        "forward_flops_per_sample": fwd,
        "flops_per_env_step": fwd * (1.0 + 1.0 / rollout_steps)
        + epochs * forward_backward_flops(layer_shapes),
        "dense_layers": layer_shapes,
        "epochs": int(epochs),
        "formula": FORMULA,
    }


def network_layers(cfg) -> list[list[int]]:
    """(in, out) of every dense kernel of the network `cfg` trains (shapes only, no FLOPs),
    the input layer at the columns the window multiplies (`ppo.window.stored_width`: 240 of
    Caravan's 260, the reserved zeros dropped), so FLOP/s are not overstated. Eval's
    forward reads all 260, so `eval_flops_per_window` is ~8 % low on the first layer."""
    import jax
    import jax.numpy as jnp

    from envjax import N_ACTIONS, OBS_DIM
    from ppo.window import make_network, stored_width

    net = make_network(cfg, N_ACTIONS)
    # initialised on the stored width, so the input kernel has that many rows
    obs = jnp.zeros((1, stored_width(OBS_DIM)), jnp.float32)
    return dense_layers(jax.eval_shape(net.init, jax.random.PRNGKey(0), obs))


def dense_layers(params) -> list[list[int]]:
    """(in, out) of every dense kernel in a params tree (per-seed leading axes ignored), the
    input layer (`trunk_0`, the one reading the observations) first, the rest in tree order."""
    import jax

    layers: list[tuple[bool, list[int]]] = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = str(getattr(path[-1], "key", path[-1]))
        if name == "kernel" and len(leaf.shape) >= 2:
            is_input = "trunk_0" in jax.tree_util.keystr(path)
            layers.append((not is_input, [int(leaf.shape[-2]), int(leaf.shape[-1])]))
    return [shape for _, shape in sorted(layers, key=lambda x: x[0])]


def train_config(spec: dict, with_eval: bool, run_dir: str, windows: int):
    """The TrainConfig the profiler runs: the trainer's defaults plus the profiled sizes."""
    import jax

    from ppo.config import TrainConfig

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = dict(spec.get("trainer_overrides") or {})
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"--set: TrainConfig has no field {unknown[0]!r}")
    # The defaults the parent read once (so a ppo edit mid-run cannot split the modes' configs).
    base = {k: v for k, v in (spec.get("trainer_base") or {}).items() if k in fields}
    kw = {
        **base,
        **overrides,
        "num_envs": int(spec["num_envs"]),
        "rollout_steps": int(spec["rollout_steps"]),
        "updates_per_window": int(spec["updates_per_window"]),
        "seed": int(spec["seed"]),
        "wandb": "disabled",
        "run_dir": run_dir,
        "run_id": f"profiler-{'eval' if with_eval else 'train'}",
    }
    if not with_eval:
        kw["eval_episodes"] = 0
    elif spec.get("eval_episodes") is not None:
        kw["eval_episodes"] = int(spec["eval_episodes"])
    try:
        cfg = TrainConfig(**kw)
        steps = cfg.derived(jax.device_count()).steps_per_window
        cfg = dataclasses.replace(cfg, total_steps=steps * windows)
        cfg.derived(jax.device_count())
    except (TypeError, ValueError) as exc:  # ppo's ConfigError: before anything compiles
        raise ConfigError(str(exc)) from None
    return cfg


def run(spec: dict, progress: Callable[[str], None]) -> dict:
    """Run warmup + repeats windows of ppo.train and report the timed ones."""
    import jax

    from ppo import train as ppo_train

    with_eval = spec["mode"] == "trainer+eval"
    # Window 0 also compiles the eval program on first use, so at least one is untimed.
    warmup = max(1, int(spec["warmup"]))
    repeats = int(spec["repeats"])
    with tempfile.TemporaryDirectory(prefix="profiler-train-", dir=spec.get("run_dir")) as tmp:
        cfg = train_config(spec, with_eval, tmp, warmup + repeats)
        der = cfg.derived(jax.device_count())
        steps = der.steps_per_window * cfg.num_seeds
        progress(
            f"{spec['mode']}: {warmup} warmup + {repeats} timed windows of {steps:,} env steps "
            f"(eval {cfg.eval_episodes} episodes, checkpoints {'on' if with_eval else 'off'})"
        )
        probe = TrainProbe(progress)
        ppo_train.train(cfg, progress_fn=probe, checkpoint_every=1 if with_eval else 0)
    cycles = probe.cycles()
    if len(cycles) != warmup + repeats:
        raise RuntimeError(f"expected {warmup + repeats} windows, the probe saw {len(cycles)}")
    timed_cycles = cycles[warmup:]
    seconds = [c.seconds for c in timed_cycles]
    timed = TimedRepeats(tuple(seconds), sum(c.cpu_s for c in timed_cycles), sum(seconds))
    net = network_flops(network_layers(cfg), cfg.epochs, cfg.rollout_steps)
    if with_eval:
        from envjax import MAX_DAYS
        from ppo.evaluate import eval_env_steps

        eval_steps = eval_env_steps(cfg.eval_episodes, MAX_DAYS)
        net["eval_flops_per_window"] = net["forward_flops_per_sample"] * eval_steps
    return {
        "mode": spec["mode"],
        "num_envs": cfg.num_envs,
        "rollout_steps": cfg.rollout_steps,
        "updates_per_window": cfg.updates_per_window,
        "steps_per_call": steps,
        "steps_per_sec": summarize([steps / s for s in seconds]),
        "call_seconds": summarize(seconds),
        "compile_s": probe.compile_s,
        "cpu": cpu_block(timed, steps),
        "peak_rss_bytes": peak_rss_bytes(),
        "network": net,
        "memory_traffic": None,
        "details": {
            "trainer_config": cfg.to_json(),
            "windows_run": len(cycles),
            "timed_windows": list(range(warmup, warmup + repeats)),
            "phase_seconds_p50": probe.phase_medians(timed_cycles),
            "first_window_s": cycles[0].seconds,
            "eval_compile_s": probe.eval_compile_s,
            "checkpoints": "written every window" if with_eval else "off (checkpoint_every=0)",
            "eval_episodes": cfg.eval_episodes,
        },
    }
