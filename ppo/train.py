"""`python -m ppo.train`: the PPO training entry point.

The compiled window (ppo.window) runs K updates per call; between calls, and only there,
the host evaluates, writes run records and checkpoints, logs to W&B and prints progress.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ppo import checkpoint
from ppo.config import ConfigError, Derived, TrainConfig, parse_args
from ppo.evaluate import eval_document, eval_window_metrics, make_eval_fn
from ppo.metrics import nonfinite_keys, update_rows, window_metrics
from ppo.records import RunWriter, read_run, read_windows, utc_now
from ppo.wandb_log import WandbLogger
from ppo.window import (
    Runner,
    init_runner,
    make_mesh,
    make_network,
    make_window_fn,
    runner_specs,
)

# Test hook: SIGKILL this process right after window N's records and checkpoint are written
# (the resume test's "kill after window 2"). Unset in normal use.
KILL_AFTER_ENV = "PPO_TEST_KILL_AFTER_WINDOW"


class TrainingFailed(RuntimeError):
    """Training stopped on a non-finite loss or parameters; the run is marked failed."""


def maybe_init_distributed() -> None:
    """jax.distributed.initialize() when a multi-process environment is configured."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("JAX_NUM_PROCESSES"):
        jax.distributed.initialize()


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _host(tree: Any) -> Any:
    """A device tree as host numpy (gathered across processes on multi-host)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def _fmt_progress(run_id: str, w: int, n: int, row: dict[str, Any]) -> str:
    def f(x: Any, spec: str, scale: float = 1.0) -> str:
        return "-" if x is None else format(x * scale, spec)

    return (
        f"[{run_id}] window {w + 1}/{n} | steps {row['env_steps']:,} | "
        f"{row['sps']:,.0f} sps | eval return {f(row['eval/return_mean'], '.2f')} "
        f"profit {f(row['eval/profit_mean'], ',.0f')} "
        f"survival {f(row['eval/survival_rate'], '.1f', 100)}% "
        f"invalid {f(row['eval/invalid_action_rate'], '.2f', 100)}% | "
        f"train return {f(row['train/return_mean'], '.2f')} | {row['window_time_s']:.1f}s"
    )


@dataclasses.dataclass
class SeedRun:
    """Host-side handles of one agent (one run) of a launch."""

    run_id: str
    writer: RunWriter
    wandb: WandbLogger
    best: tuple[int, float] | None = None
    wall_offset: float = 0.0  # wall_time_s already spent before this process (resume)


def _resolve_resume(cfg: TrainConfig) -> tuple[TrainConfig, list[str], str | None]:
    """The stored config of the run to resume (CLI run-dir/wandb kept) and its run ids."""
    assert cfg.resume is not None
    run_dir = Path(cfg.run_dir) / cfg.resume
    meta = read_run(run_dir)
    stored = {k: v for k, v in meta["config"].items() if k in TrainConfig.__dataclass_fields__}
    stored.update(run_dir=cfg.run_dir, wandb=cfg.wandb, resume=cfg.resume)
    new = TrainConfig(**stored)
    group = meta.get("group")
    if new.num_seeds > 1 and group:
        ids = [f"{group}-s{i}" for i in range(new.num_seeds)]
    else:
        ids = [cfg.resume]
    return new, ids, group


def train(cfg: TrainConfig, env: Any = None) -> list[Path]:
    """Run (or resume) a training launch; returns the run directories.

    Raises ConfigError before compiling anything when the config is inconsistent, and
    TrainingFailed when a loss or the parameters become non-finite.
    """
    from envjax import CaravanEnv

    t_start = time.perf_counter()  # wall_time_s and --max-wall-s count from here
    maybe_init_distributed()
    is_main = jax.process_index() == 0
    resume = cfg.resume is not None
    if resume:
        cfg, run_ids, group = _resolve_resume(cfg)
    der: Derived = cfg.derived(jax.device_count())
    if not resume:
        base = cfg.run_id or new_run_id()
        if cfg.num_seeds > 1:
            group, run_ids = base, [f"{base}-s{i}" for i in range(cfg.num_seeds)]
        else:
            group, run_ids = None, [base]
        cfg = dataclasses.replace(cfg, run_id=base)
        for rid in run_ids:
            if (Path(cfg.run_dir) / rid / "run.json").exists():
                raise ConfigError(f"run {rid} already exists in {cfg.run_dir}; use --resume {rid}")

    env = env or CaravanEnv()
    env_params = env.default_params
    mesh = make_mesh(der.num_devices)
    (obs_dim,) = env.observation_space(env_params).shape
    runner = init_runner(cfg, der, env, env_params, mesh, obs_dim, env.num_actions)

    start_window = 0
    if resume:
        dirs = [Path(cfg.run_dir) / rid for rid in run_ids]
        common = set.intersection(*(set(checkpoint.complete_windows(d)) for d in dirs))
        if not common:
            raise ConfigError(f"run {cfg.resume} has no complete checkpoint to resume from")
        last = max(common)
        meta = checkpoint.read_meta(dirs[0], last)
        if meta.get("num_devices") != der.num_devices:
            raise ConfigError(
                f"run {cfg.resume} was checkpointed on {meta.get('num_devices')} device(s); "
                f"resume it with --num-devices {meta.get('num_devices')}"
            )
        host = _host(runner)
        template = jax.tree.map(lambda x: x[0], host)
        states = [checkpoint.load_state(d, last, template) for d in dirs]
        stacked = jax.tree.map(lambda *xs: np.stack(xs), *states)
        shardings = jax.tree.map(
            lambda sp: jax.sharding.NamedSharding(mesh, sp), runner_specs(runner)
        )
        runner = jax.device_put(stacked, shardings)
        start_window = last + 1

    seeds: list[SeedRun] = []
    cfg_json = cfg.to_json()
    for i, rid in enumerate(run_ids):
        run_dir = Path(cfg.run_dir) / rid
        if not is_main:
            continue
        if resume:
            writer = RunWriter.reopen(run_dir, start_window - 1)
            kept = read_windows(run_dir)
        else:
            extra = {"group": group, "seed_index": i} if group else {}
            name = cfg.name or rid
            if group and cfg.name:
                name = f"{cfg.name}-s{i}"
            writer = RunWriter.create(run_dir, rid, name, {**cfg_json, "seed_index": i}, extra)
            kept = []
        wb = WandbLogger(
            cfg.wandb,
            rid,
            writer.meta["name"],
            cfg.wandb_project,
            cfg.wandb_entity,
            writer.meta["config"],
            run_dir,
            resume,
            group,
        )
        writer.write_meta(wandb=wb.info)
        sr = SeedRun(rid, writer, wb)
        best = writer.meta.get("best_checkpoint")
        if best:
            sr.best = (best["window_id"], best["eval/return_mean"])
        sr.wall_offset = kept[-1]["wall_time_s"] if kept else 0.0
        seeds.append(sr)

    def on_sigterm(signum: int, frame: Any) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    main_thread = threading.current_thread() is threading.main_thread()
    old_handler = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    try:
        return _loop(cfg, der, env, env_params, mesh, runner, seeds, start_window, run_ids, t_start)
    except BaseException as e:
        failed = isinstance(e, TrainingFailed)
        for sr in seeds:
            state = "failed" if failed else "crashed"
            sr.writer.write_meta(state=state, error=f"{type(e).__name__}: {e}")
            sr.wandb.finish(exit_code=1)
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_handler)


def _loop(
    cfg: TrainConfig,
    der: Derived,
    env: Any,
    env_params: Any,
    mesh: Any,
    runner: Runner,
    seeds: list[SeedRun],
    start_window: int,
    run_ids: list[str],
    t_start: float,
) -> list[Path]:
    from envjax import MAX_DAYS

    window_fn = make_window_fn(cfg, der, env, env_params, mesh, runner, env.num_actions)
    t0 = time.perf_counter()
    compiled = window_fn.lower(runner).compile()
    compile_s = time.perf_counter() - t0
    eval_fn: Any = None  # jitted, then compiled
    if cfg.eval_episodes > 0:
        eval_fn = make_eval_fn(
            make_network(cfg, env.num_actions),
            env,
            env_params,
            cfg.eval_episodes,
            cfg.eval_seed_base,
            MAX_DAYS,
            env.num_actions,
            cfg.action_masking,
        )
    if eval_fn is not None:  # compiled ahead too, so no window's time holds a compile
        t0 = time.perf_counter()
        eval_fn = eval_fn.lower(runner.params).compile()
        compile_s += time.perf_counter() - t0
    is_main = jax.process_index() == 0
    kill_after = os.environ.get(KILL_AFTER_ENV)
    if is_main:
        print(
            f"training {', '.join(run_ids)}: {der.num_windows} windows x "
            f"{der.steps_per_window:,} env steps on {der.num_devices} "
            f"{jax.default_backend()} device(s); compile {compile_s:.1f}s",
            flush=True,
        )

    for w in range(start_window, der.num_windows):
        tw = time.perf_counter()
        runner, stats = compiled(runner)
        st = _host(stats._asdict())
        bad = nonfinite_keys(st)
        if bad:
            first = der.steps_per_window * w
            raise TrainingFailed(
                f"non-finite {', '.join(bad)} in window {w} (after env step {first:,}); "
                f"stopped, the last good checkpoint is kept"
            )
        evals = _host(eval_fn(runner.params)) if eval_fn is not None else None
        host_runner = _host(runner)
        env_steps = der.steps_per_window * (w + 1)
        first_update = w * cfg.updates_per_window
        now = time.perf_counter()
        for i, sr in enumerate(seeds):
            st_i = {k: np.asarray(v)[i] for k, v in st.items()}
            doc = None
            if evals is not None:
                doc = eval_document(
                    {k: np.asarray(v)[i] for k, v in evals.items()},
                    w,
                    env_steps,
                    cfg.eval_seed_base,
                    cfg.eval_policy,
                )
            window_time = now - tw
            row = {
                "window_id": w,
                "env_steps": env_steps,
                "first_update": first_update,
                "last_update": first_update + cfg.updates_per_window - 1,
                "wall_time_s": sr.wall_offset + (now - t_start),
                "window_time_s": window_time,
                "sps": der.steps_per_window / window_time,
                "compile_s": compile_s if w == start_window else None,
                "timestamp": utc_now(),
                **window_metrics(st_i),
                **eval_window_metrics(doc),
            }
            ups = update_rows(st_i, w, first_update, der.steps_per_window * w, der.batch_size)
            sr.writer.append_window(_ordered(row), ups, doc)
            sr.wandb.log_window(row, ups, doc)
            state_i = jax.tree.map(lambda x, i=i: x[i], host_runner)
            checkpoint.save(
                sr.writer.dir,
                w,
                state_i,
                state_i.params,
                {
                    "env_steps": env_steps,
                    "next_update": first_update + cfg.updates_per_window,
                    "num_devices": der.num_devices,
                    "eval/return_mean": row["eval/return_mean"],
                },
            )
            ret = row["eval/return_mean"]
            if ret is not None and (sr.best is None or ret > sr.best[1]):
                sr.best = (w, ret)
            checkpoint.prune(sr.writer.dir, cfg.keep_checkpoints, sr.best and sr.best[0])
            sr.writer.write_meta(
                last_checkpoint=w,
                best_checkpoint=(
                    {"window_id": sr.best[0], "eval/return_mean": sr.best[1]} if sr.best else None
                ),
                wandb=sr.wandb.info,
            )
            print(_fmt_progress(sr.run_id, w, der.num_windows, row), flush=True)
        if kill_after is not None and w == int(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)
        if cfg.max_wall_s > 0 and time.perf_counter() - t_start >= cfg.max_wall_s:
            if is_main:
                print(
                    f"stopping after window {w + 1}/{der.num_windows}: --max-wall-s "
                    f"{cfg.max_wall_s:g} reached",
                    flush=True,
                )
            break

    for sr in seeds:
        sr.wandb.finish()
        sr.writer.write_meta(state="finished", wandb=sr.wandb.info)
    return [Path(cfg.run_dir) / rid for rid in run_ids]


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    from ppo.metrics import WINDOW_KEYS

    return {k: row[k] for k in WINDOW_KEYS}


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 on success, 2 on a bad config, 1 on a failed run."""
    try:
        cfg = parse_args(argv)
        if cfg.resume is None:
            cfg.derived(jax.device_count())  # reject bad values before anything else
        dirs = train(cfg)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingFailed as e:
        print(f"error: training failed: {e}", file=sys.stderr)
        return 1
    for d in dirs:
        print(f"run records: {d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
