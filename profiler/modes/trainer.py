"""`trainer` and `trainer+eval` modes: PPO windows end to end, built from ppo's own parts.

One timed call is one window as the trainer runs it: the fused jitted window program, then the
host work between windows (pulling the window's metric rows to the host). `trainer+eval` adds
the per-window evaluation and checkpoint. Compile time is the window program's lowering and
compilation, measured apart from the timed windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from profiler.config import ConfigError
from profiler.stats import cpu_block, peak_rss_bytes, summarize, time_repeats

# Each env step costs one forward pass in the rollout and, per epoch, one forward and one
# backward pass (backward ~ 2x forward) in the update; plus one bootstrap value per update.
FORMULA = "F * (1 + 1/rollout_steps + 3 * epochs), F = sum over dense layers of 2 * in * out"


def network_flops(params, epochs: int, rollout_steps: int) -> dict:
    """FLOPs of the network per env step, from the dense kernels in `params`.

    Counts matmul FLOPs only (2 per multiply-add); biases and activations add < 1 %.
    Leading axes (per-seed copies) are ignored: FLOPs are per env step of one agent.
    """
    import jax

    layers: list[list[int]] = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = str(getattr(path[-1], "key", path[-1]))
        if name == "kernel" and leaf.ndim >= 2:
            layers.append([int(leaf.shape[-2]), int(leaf.shape[-1])])
    if not layers:
        raise ValueError("no dense kernels found in the trainer's params")
    fwd = float(sum(2 * i * o for i, o in layers))
    per_step = fwd * (1.0 + 1.0 / rollout_steps + 3.0 * epochs)
    return {
        "forward_flops_per_sample": fwd,
        "flops_per_env_step": per_step,
        "dense_layers": layers,
        "epochs": int(epochs),
        "formula": FORMULA,
    }


class Harness:
    """The trainer's window program and between-window host work, from ppo's public parts."""

    def __init__(self, spec: dict, with_eval: bool, progress: Callable[[str], None]) -> None:
        import jax

        from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
        from ppo import window as ppo_window
        from ppo.config import TrainConfig

        overrides = {
            "num_envs": int(spec["num_envs"]),
            "rollout_steps": int(spec["rollout_steps"]),
            "updates_per_window": int(spec["updates_per_window"]),
            "seed": int(spec["seed"]),
            "wandb": "disabled",
        }
        if spec.get("eval_episodes") is not None:
            overrides["eval_episodes"] = int(spec["eval_episodes"])
        try:
            cfg = TrainConfig(**overrides)
            der = cfg.derived(jax.device_count())
        except ValueError as exc:  # ppo's ConfigError: inconsistent sizes, before compiling
            raise ConfigError(str(exc)) from None
        self.cfg, self.der = cfg, der
        self.with_eval = with_eval
        self.progress = progress
        env = CaravanEnv()
        env_params = env.default_params
        mesh = ppo_window.make_mesh(der.num_devices)
        self.runner = ppo_window.init_runner(cfg, der, env, env_params, mesh, OBS_DIM, N_ACTIONS)
        window = ppo_window.make_window_fn(cfg, der, env, env_params, mesh, self.runner, N_ACTIONS)
        t0 = time.perf_counter()
        self.window = window.lower(self.runner).compile()
        self.compile_s = time.perf_counter() - t0
        self.window_id = 0
        self.host_s: list[float] = []
        self.eval_s: list[float] = []
        self.checkpoint_s: list[float] = []
        self.steps_per_window = der.steps_per_window * cfg.num_seeds

    def call(self) -> None:
        """One window: the compiled program, then the between-window host work."""
        import jax

        runner, stats = self.window(self.runner)
        jax.block_until_ready((runner, stats))
        self.runner = runner
        t0 = time.perf_counter()
        rows = jax.device_get(stats)  # the metric rows the trainer logs
        self.host_s.append(time.perf_counter() - t0)
        if not bool(rows.params_finite.all()):
            raise RuntimeError(f"non-finite params after window {self.window_id}")
        self.window_id += 1


def run(spec: dict, progress: Callable[[str], None]) -> dict:
    """Compile one window, warm up, then time `repeats` windows; see the module docstring."""
    with_eval = spec["mode"] == "trainer+eval"
    h = Harness(spec, with_eval, progress)
    progress(
        f"{spec['mode']}: window of {h.steps_per_window:,} env steps compiled in "
        f"{h.compile_s:.1f} s"
    )
    timed = time_repeats(h.call, spec["repeats"], spec["warmup"], progress)
    net = network_flops(h.runner.params, h.cfg.epochs, h.cfg.rollout_steps)
    if with_eval:
        net["eval_flops_per_window"] = (
            net["forward_flops_per_sample"] * h.cfg.eval_episodes * _max_days()
        )
    return {
        "mode": spec["mode"],
        "num_envs": h.cfg.num_envs,
        "rollout_steps": h.cfg.rollout_steps,
        "updates_per_window": h.cfg.updates_per_window,
        "steps_per_call": h.steps_per_window,
        "steps_per_sec": summarize([h.steps_per_window / s for s in timed.seconds]),
        "call_seconds": summarize(timed.seconds),
        "compile_s": h.compile_s,
        "cpu": cpu_block(timed),
        "peak_rss_bytes": peak_rss_bytes(),
        "network": net,
        "memory_traffic": None,
        "details": {
            "trainer_config": h.cfg.to_json(),
            "windows_run": h.window_id,
            "host_s_per_window": summarize(h.host_s) if h.host_s else None,
            "eval_s_per_window": summarize(h.eval_s) if h.eval_s else None,
            "checkpoint_s_per_window": summarize(h.checkpoint_s) if h.checkpoint_s else None,
        },
    }


def _max_days() -> int:
    from envjax import MAX_DAYS

    return int(MAX_DAYS)
