"""`python -m ppo.train`: the PPO training entry point.

The compiled window (ppo.window) runs K updates per call; between calls, and only there,
the host evaluates, writes run records and checkpoints, logs to W&B and prints progress.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # check the command before importing jax: exit 2 in a second
    from ppo.preflight import exit_on_bad_command

    _CHECKED = exit_on_bad_command(sys.argv[1:])

import contextlib
import dataclasses
import faulthandler
import functools
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import jax
import numpy as np

from ppo import checkpoint, distributed
from ppo.config import ConfigError, Derived, RunOptions, TrainConfig, parse_command
from ppo.evaluate import eval_document, eval_window_metrics, make_eval_fn
from ppo.events import (
    Compiled,
    Event,
    Phases,
    ProgressFn,
    StopFn,
    WindowDone,
    checkpoint_due,
    checkpoint_policy,
)
from ppo.metrics import WINDOW_ROW_KEYS, nonfinite_keys, update_rows, window_metrics
from ppo.preflight import check_run_dir, launch_plan, preflight, resolve_resume
from ppo.ready import RuntimeStalled, stall_limit, wait_ready
from ppo.records import RunWriter, is_disk_full, read_windows, utc_now
from ppo.runlock import RunLock, RunLocked
from ppo.wandb_log import WandbLogger
from ppo.window import (
    Runner,
    init_runner,
    make_mesh,
    make_network,
    make_window_fn,
    runner_specs,
)

LOCKED_TAG = "locked: "  # marks a RunLocked verdict in the processes' agreement


class TrainingFailed(RuntimeError):
    """Training stopped on a non-finite loss or parameters; the run is marked failed."""


def _say(text: str) -> None:
    """Print one progress line on stdout. When its reader is gone (`| head`, a killed `tee`)
    the lines stop, not the run: stdout then points at os.devnull (so Python's own flush
    at exit stays quiet too); records, checkpoints and W&B go on as before."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):  # no real fd (captured): nothing to do
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random hex."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


class Terminated(SystemExit):
    """Raised in the main thread by the trainer's SIGTERM handler."""


def _leave_now(line: str, code: int) -> NoReturn:
    """Print `line` on stderr and exit at once, the run already marked crashed.

    The device may still be running the window, and nothing cancels a running XLA program:
    Python's normal shutdown would wait for it (minutes for a long window).
    """
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
    os._exit(code)


def _host(tree: Any, stall_s: float = 0.0) -> Any:
    """A device tree as host numpy (gathered across processes on multi-host); `stall_s` as
    for `ppo.ready.wait_ready`."""
    wait_ready(tree, stall_s=stall_s)
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


def train(
    cfg: TrainConfig,
    env: Any = None,
    *,
    progress_fn: ProgressFn | None = None,
    checkpoint_every: int | None = 1,
    stop_fn: StopFn | None = None,
    stall_s: float = 0.0,
) -> list[Path]:
    """Run (or resume) a training launch; returns the run directories.

    progress_fn(event): called with `Compiled` after each program compiles and with
      `WindowDone` after each window's records and checkpoint are durable (ppo.events).
    checkpoint_every: checkpoint every N-th window; 0 or None: never. When on, the final
      window of the run (the last one, or the one a stop ends on) is always checkpointed.
    stop_fn(event) -> bool: asked after each window (before progress_fn sees the event);
      True ends the run cleanly (state finished) after that window. In a multi-process
      launch process 0's answer is the one every process follows.
    stall_s: on a single-process CPU launch, a window or eval that leaves XLA's threads idle
      for a stretch of this many seconds raises RuntimeStalled (ppo.ready; the run is
      marked crashed, the message names its --resume id); 0: wait forever.

    Raises ConfigError before compiling anything when the config is inconsistent or
    cfg.run_dir is not a writable directory, RunLocked when another live process trains one
    of the launch's runs, TrainingFailed when a loss or the parameters become non-finite
    (the run is marked failed), and OSError on a full disk (the run is marked failed with
    "no space left on device (...)"; every finished window is kept).
    """
    t_start = time.perf_counter()  # wall_time_s and --max-wall-s count from here
    every = checkpoint_policy(checkpoint_every)
    is_main = jax.process_index() == 0
    resume = cfg.resume is not None
    if resume:
        cfg, run_ids, group = resolve_resume(cfg)
    der: Derived = cfg.derived(jax.device_count())
    # Multi-process: the same training config on every process; paths and W&B settings may
    # differ per host (only process 0 logs; the run dir may be mounted at different paths).
    local = ("run_dir", "wandb", "wandb_project", "wandb_entity")
    distributed.check_same("config", {k: v for k, v in cfg.to_json().items() if k not in local})
    if not resume:
        # one id for all processes: given, or made by process 0
        base = cfg.run_id or distributed.agree("run_id", new_run_id)
        if cfg.num_seeds > 1:
            group, run_ids = base, [f"{base}-s{i}" for i in range(cfg.num_seeds)]
        else:
            group, run_ids = None, [base]
        cfg = dataclasses.replace(cfg, run_id=base)
    check_run_dir(cfg.run_dir)
    locks: list[RunLock] = []

    def take_locks() -> str:
        """Process 0 only (docs/RUN_RECORDS.md): lock every run of the launch, then check
        the runs are new; "" or the one line every process leaves with."""
        try:
            for rid in run_ids:
                locks.append(RunLock.acquire(Path(cfg.run_dir) / rid))
        except RunLocked as e:
            return f"{LOCKED_TAG}{e}"
        for rid in run_ids if not resume else []:
            if (Path(cfg.run_dir) / rid / "run.json").exists():
                return f"run {rid} already exists in {cfg.run_dir}; use --resume {rid}"
        return ""

    try:
        # one trainer per run, refused before JAX work; the others get process 0's verdict
        refused = distributed.agree("run_lock", take_locks)
        if refused.startswith(LOCKED_TAG):
            raise RunLocked(refused.removeprefix(LOCKED_TAG))
        if refused:
            raise ConfigError(refused)
        return _train_locked(
            cfg,
            der,
            env,
            run_ids=run_ids,
            group=group,
            t_start=t_start,
            every=every,
            progress_fn=progress_fn,
            stop_fn=stop_fn,
            is_main=is_main,
            stall_s=stall_s,
        )
    finally:
        for lock in locks:
            lock.release()


def _train_locked(
    cfg: TrainConfig,
    der: Derived,
    env: Any,
    *,
    run_ids: list[str],
    group: str | None,
    t_start: float,
    every: int,
    progress_fn: ProgressFn | None,
    stop_fn: StopFn | None,
    is_main: bool,
    stall_s: float,
) -> list[Path]:
    """train() once the launch's run locks are held."""
    from envjax import CaravanEnv

    resume = cfg.resume is not None
    env = env or CaravanEnv()
    env_params = env.default_params
    mesh = make_mesh(der.num_devices)
    (obs_dim,) = env.observation_space(env_params).shape
    runner = init_runner(cfg, der, env, env_params, mesh, obs_dim, env.num_actions)

    start_window = 0
    if resume:
        runner, start_window = _restore(cfg, der, mesh, runner, run_ids)
    seeds = _open_seed_runs(cfg, run_ids, group, start_window) if is_main else []

    failing = threading.Event()

    def on_sigterm(signum: int, frame: Any) -> None:
        if not failing.is_set():  # already on the way out: let the crash mark finish
            raise Terminated(f"terminated by signal {signum}")

    def mark_crashed(reason: str) -> None:  # a peer died: the watchdog stops this process
        failing.set()
        for sr in seeds:
            sr.writer.write_meta(state="crashed", error=reason)

    forget_hook = distributed.on_peer_lost(mark_crashed)
    main_thread = threading.current_thread() is threading.main_thread()
    old_handler = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    launch = _Launch(
        cfg=cfg,
        der=der,
        env=env,
        env_params=env_params,
        mesh=mesh,
        seeds=seeds,
        run_ids=run_ids,
        t_start=t_start,
        checkpoint_every=every,
        stall_s=stall_limit(stall_s, multiprocess=distributed.is_multiprocess()),
        progress_fn=progress_fn,
        stop_fn=stop_fn,
    )
    try:
        return _loop(launch, runner, start_window)
    except BaseException as e:
        failing.set()
        full = is_disk_full(e)
        state = "failed" if isinstance(e, TrainingFailed) or full else "crashed"
        error = f"{type(e).__name__}: {e}"
        if full:
            error = f"no space left on device ({getattr(e, 'filename', None) or cfg.run_dir})"
        for sr in seeds:
            sr.wandb.finish(exit_code=1)
            if not sr.writer.write_final_meta(state=state, error=error):
                print(f"warning: could not mark {sr.run_id} {state}: {error}", file=sys.stderr)
        if isinstance(e, RuntimeStalled):
            raise RuntimeStalled(f"{e}; restart it with --resume {group or run_ids[0]}") from e
        raise
    finally:
        forget_hook()
        if main_thread:
            signal.signal(signal.SIGTERM, old_handler)


def _restore(
    cfg: TrainConfig, der: Derived, mesh: Any, runner: Runner, run_ids: list[str]
) -> tuple[Runner, int]:
    """The runner of every seed from their last common complete checkpoint, and the window
    to continue from; a run with no checkpoint yet (killed early, or checkpoints off)
    starts again from window 0 with its stored config."""
    dirs = [Path(cfg.run_dir) / rid for rid in run_ids]
    common = set.intersection(*(set(checkpoint.complete_windows(d)) for d in dirs))
    last = max(common, default=-1)
    if distributed.is_multiprocess():  # all processes load the window process 0 chose
        last = int(distributed.agree("resume_window", lambda: str(last)))
        if last >= 0 and last not in common:
            raise ConfigError(
                f"{distributed.process_label()} cannot see checkpoint {last} of run "
                f"{cfg.resume} in {cfg.run_dir}: every process must see the same --run-dir"
            )
    if last < 0:
        if jax.process_index() == 0:
            _say(f"run {cfg.resume} has no complete checkpoint: starting it again from window 0")
        return runner, 0
    meta = checkpoint.read_meta(dirs[0], last)
    if meta.get("num_devices") != der.num_devices:
        raise ConfigError(
            f"run {cfg.resume} was checkpointed on {meta.get('num_devices')} device(s); "
            f"resume it with --num-devices {meta.get('num_devices')}"
        )
    distributed.barrier("restore")  # before the first collective (see distributed.barrier)
    host = _host(runner)
    template = jax.tree.map(lambda x: x[0], host)
    states = [checkpoint.load_state(d, last, template) for d in dirs]
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *states)
    shardings = jax.tree.map(lambda sp: jax.sharding.NamedSharding(mesh, sp), runner_specs(runner))
    return jax.device_put(stacked, shardings), last + 1


def _open_seed_runs(
    cfg: TrainConfig, run_ids: list[str], group: str | None, start_window: int
) -> list[SeedRun]:
    """The records writer and W&B logger of every seed (new runs, or reopened on resume)."""
    resume = cfg.resume is not None
    seeds: list[SeedRun] = []
    cfg_json = cfg.to_json()
    for i, rid in enumerate(run_ids):
        run_dir = Path(cfg.run_dir) / rid
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
            mode=cfg.wandb,
            run_id=rid,
            name=writer.meta["name"],
            project=cfg.wandb_project,
            entity=cfg.wandb_entity,
            config=writer.meta["config"],
            run_dir=run_dir,
            resume=resume,
            group=group,
        )
        writer.write_meta(wandb=wb.info)
        writer.reserve_space()
        sr = SeedRun(rid, writer, wb)
        best = writer.meta.get("best_checkpoint")
        if best:
            sr.best = (best["window_id"], best["eval/return_mean"])
        sr.wall_offset = kept[-1]["wall_time_s"] if kept else 0.0
        seeds.append(sr)
    return seeds


@dataclasses.dataclass(frozen=True)
class _Launch:
    """What the host loop needs about one launch (fixed for its duration)."""

    cfg: TrainConfig
    der: Derived
    env: Any
    env_params: Any
    mesh: Any
    seeds: list[SeedRun]
    run_ids: list[str]
    t_start: float
    checkpoint_every: int
    stall_s: float  # 0: never judged (ppo.ready.stall_limit)
    progress_fn: ProgressFn | None
    stop_fn: StopFn | None

    def emit(self, event: Event) -> None:
        if self.progress_fn is not None:
            self.progress_fn(event)


@dataclasses.dataclass(frozen=True)
class _Programs:
    """The compiled window program and eval program (None when eval is off)."""

    window: Callable[[Runner], tuple[Runner, Any]]
    eval: Callable[[Any], dict[str, Any]] | None
    compile_s: float  # both programs' lowering + compilation, seconds


class _PhaseClock:
    """Accumulates wall seconds per phase of one window (ppo.events.Phases fields)."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys((f.name for f in dataclasses.fields(Phases)), 0.0)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0

    def phases(self) -> Phases:
        return Phases(**self.seconds)


def _compile(launch: _Launch, runner: Runner) -> _Programs:
    """Lower and compile the window program, and the eval program ahead too (so no window's
    time holds a compile); emits one `Compiled` event per program."""
    from envjax import MAX_DAYS

    cfg, der = launch.cfg, launch.der
    n_actions = launch.env.num_actions
    window_fn = make_window_fn(
        cfg, der, launch.env, launch.env_params, launch.mesh, runner, n_actions
    )
    t0 = time.perf_counter()
    compiled = window_fn.lower(runner).compile()
    window_s = time.perf_counter() - t0
    launch.emit(Compiled(program="window", seconds=window_s))
    eval_fn, eval_s = None, 0.0
    if cfg.eval_episodes > 0:
        t0 = time.perf_counter()
        eval_fn = (
            make_eval_fn(
                make_network(cfg, n_actions),
                launch.env,
                launch.env_params,
                n_episodes=cfg.eval_episodes,
                seed_base=cfg.eval_seed_base,
                max_steps=MAX_DAYS,
                n_actions=n_actions,
                masking=cfg.action_masking,
            )
            .lower(runner.params)
            .compile()
        )
        eval_s = time.perf_counter() - t0
        launch.emit(Compiled(program="eval", seconds=eval_s))
    return _Programs(window=compiled, eval=eval_fn, compile_s=window_s + eval_s)


def _fetch_stats(stats: Any, w: int, der: Derived) -> dict[str, np.ndarray]:
    """The window's statistics on the host; TrainingFailed when any is non-finite."""
    st = _host(stats._asdict())
    bad = nonfinite_keys(st)
    if bad:
        first = der.steps_per_window * w
        raise TrainingFailed(
            f"non-finite {', '.join(bad)} in window {w} (after env step {first:,}); "
            f"stopped, the last good checkpoint is kept"
        )
    return st


def _evaluate(
    eval_fn: Callable | None, runner: Runner, stall_s: float
) -> dict[str, np.ndarray] | None:
    """Per-episode eval arrays [S, 2n] on the host, or None when eval is off."""
    return _host(eval_fn(runner.params), stall_s) if eval_fn is not None else None


def _persist_windows(
    launch: _Launch,
    w: int,
    st: dict[str, np.ndarray],
    evals: dict[str, np.ndarray] | None,
    timing: dict[str, Any],
) -> list[dict[str, Any]]:
    """Write each seed's eval file, update rows and window row, and log them to W&B;
    returns the window rows as written."""
    cfg, der = launch.cfg, launch.der
    env_steps = der.steps_per_window * (w + 1)
    first_update = w * cfg.updates_per_window
    rows = []
    for i, sr in enumerate(launch.seeds):
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
        row = {
            "window_id": w,
            "env_steps": env_steps,
            "first_update": first_update,
            "last_update": first_update + cfg.updates_per_window - 1,
            "wall_time_s": sr.wall_offset + timing["wall_time_s"],
            "window_time_s": timing["window_time_s"],
            "sps": der.steps_per_window / timing["window_time_s"],
            "compile_s": timing["compile_s"],
            "timestamp": utc_now(),
            **window_metrics(st_i),
            **eval_window_metrics(doc),
            **timing["phases"],
        }
        row = _ordered(row)
        ups = update_rows(st_i, w, first_update, der.steps_per_window * w, der.batch_size)
        sr.writer.append_window(row, ups, doc)
        sr.wandb.log_window(row, ups, doc)
        rows.append(row)
    return rows


def _checkpoint(launch: _Launch, w: int, host_runner: Runner, rows: list[dict[str, Any]]) -> None:
    """Save window `w`'s state of every seed and prune old checkpoints (last N + best)."""
    cfg, der = launch.cfg, launch.der
    for i, (sr, row) in enumerate(zip(launch.seeds, rows, strict=True)):
        state_i = jax.tree.map(lambda x, i=i: x[i], host_runner)
        checkpoint.save(
            sr.writer.dir,
            w,
            state_i,
            state_i.params,
            {
                "env_steps": row["env_steps"],
                "next_update": (w + 1) * cfg.updates_per_window,
                "num_devices": der.num_devices,
                "eval/return_mean": row["eval/return_mean"],
            },
        )
        ret = row["eval/return_mean"]
        if ret is not None and (sr.best is None or ret > sr.best[1]):
            sr.best = (w, ret)
        checkpoint.prune(sr.writer.dir, cfg.keep_checkpoints, sr.best and sr.best[0])


def _write_meta(launch: _Launch, w: int, checkpointed: bool) -> None:
    """run.json of every seed after window `w` (its heartbeat; the new checkpoint when one
    was written)."""
    for sr in launch.seeds:
        changes: dict[str, Any] = {"wandb": sr.wandb.info}
        if checkpointed:
            changes["last_checkpoint"] = w
            changes["best_checkpoint"] = (
                {"window_id": sr.best[0], "eval/return_mean": sr.best[1]} if sr.best else None
            )
        sr.writer.write_meta(**changes)


def _stop_reason(launch: _Launch, event: WindowDone) -> str | None:
    """Why the run stops after this window (not its natural end), or None to go on."""
    cfg = launch.cfg
    if cfg.max_wall_s > 0 and time.perf_counter() - launch.t_start >= cfg.max_wall_s:
        return f"--max-wall-s {cfg.max_wall_s:g} reached"
    if launch.stop_fn is not None and launch.stop_fn(event):
        return "stop_fn asked to stop"
    return None


def _window_done(
    w: int,
    rows: list[dict[str, Any]],
    clock: _PhaseClock,
    started: tuple[float, float],
    checkpointed: bool,
) -> WindowDone:
    """The event of window `w`; `started` is (perf_counter, process_time) at its start."""
    return WindowDone(
        window_id=w,
        rows=tuple(rows),
        phases=clock.phases(),
        seconds=time.perf_counter() - started[0],
        cpu_s=time.process_time() - started[1],
        checkpointed=checkpointed,
    )


def _loop(launch: _Launch, runner: Runner, start_window: int) -> list[Path]:
    """Compile, then per window: compute, fetch the stats, evaluate, persist each seed,
    checkpoint (per the policy), tell the caller, decide whether to stop."""
    cfg, der, seeds = launch.cfg, launch.der, launch.seeds
    programs = _compile(launch, runner)
    distributed.barrier("compiled")  # processes compile at different speeds
    for sr in seeds:  # heartbeat: compiled (docs/RUN_RECORDS.md, liveness)
        sr.writer.write_meta()
    is_main = jax.process_index() == 0
    if is_main:
        _say(
            f"training {', '.join(launch.run_ids)}: {der.num_windows} windows x "
            f"{der.steps_per_window:,} env steps on {der.num_devices} "
            f"{jax.default_backend()} device(s); compile {programs.compile_s:.1f}s"
        )

    previous: Phases | None = None
    stall_s = launch.stall_s
    for w in range(start_window, der.num_windows):
        tw, cpu0 = time.perf_counter(), time.process_time()
        clock = _PhaseClock()
        with clock.phase("compute_s"):
            runner, stats = programs.window(runner)
            wait_ready((runner, stats), stall_s=stall_s)
        with clock.phase("fetch_s"):
            st = _fetch_stats(stats, w, der)
        with clock.phase("eval_s"):
            evals = _evaluate(programs.eval, runner, stall_s)
        due = checkpoint_due(w, launch.checkpoint_every, final=w == der.num_windows - 1)
        with clock.phase("fetch_s"):
            host_runner = _host(runner) if due else None
        now = time.perf_counter()
        timing = {
            "wall_time_s": now - launch.t_start,
            "window_time_s": now - tw,
            "compile_s": programs.compile_s if w == start_window else None,
            "phases": clock.phases().row(previous),
        }
        with clock.phase("records_s"):
            rows = _persist_windows(launch, w, st, evals, timing)
        if host_runner is not None:  # a checkpoint is due
            with clock.phase("checkpoint_s"):
                _checkpoint(launch, w, host_runner, rows)
        with clock.phase("records_s"):
            _write_meta(launch, w, checkpointed=due)
            for sr, row in zip(seeds, rows, strict=True):
                _say(_fmt_progress(sr.run_id, w, der.num_windows, row))
        stop = _stop_reason(launch, _window_done(w, rows, clock, (tw, cpu0), due))
        if distributed.is_multiprocess():  # all processes stop after the same window
            stop = distributed.agree(f"stop/{w}", functools.partial(str, stop or "")) or None
        if stop is not None and launch.checkpoint_every and not due:
            # The run ends here: its final window is checkpointed whenever checkpoints are on.
            with clock.phase("fetch_s"):
                host_runner = _host(runner)
            with clock.phase("checkpoint_s"):
                _checkpoint(launch, w, host_runner, rows)
            with clock.phase("records_s"):
                _write_meta(launch, w, checkpointed=True)
            due = True
        done = _window_done(w, rows, clock, (tw, cpu0), due)
        launch.emit(done)
        previous = done.phases
        if stop is not None:
            if is_main:
                _say(f"stopping after window {w + 1}/{der.num_windows}: {stop}")
            break

    for sr in seeds:
        sr.wandb.finish()
        sr.writer.finish(state="finished", wandb=sr.wandb.info)
    return [Path(cfg.run_dir) / rid for rid in launch.run_ids]


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in WINDOW_ROW_KEYS}


def _preflight_and_join(argv: list[str] | None) -> tuple[TrainConfig, RunOptions]:
    """preflight(argv) on this process, then jax.distributed start-up (before anything
    touches the backend). In a multi-process launch a failed check is raised only after
    joining, so that every peer stops at once (exit_now) rather than after the join
    timeout."""
    cfg, opts = parse_command(argv)
    plan = launch_plan(opts)
    if plan is None:
        return preflight(argv)
    try:
        checked = preflight(argv)
    except FileNotFoundError:
        distributed.initialize(plan)
        if cfg.resume is None:
            raise
        # Every process reads the run (config, checkpoint) itself: --run-dir must be shared.
        missing = Path(cfg.run_dir) / cfg.resume / "run.json"
        raise ConfigError(
            f"{distributed.process_label()} cannot see {missing}: every process must see the "
            "same --run-dir (a shared filesystem; see docs/SCALING.md)"
        ) from None
    except (ConfigError, RunLocked):
        distributed.initialize(plan)
        raise
    distributed.initialize(plan)
    return checked


def main(
    argv: list[str] | None = None,
    checked: tuple[TrainConfig, RunOptions] | None = None,
    *,
    progress_fn: ProgressFn | None = None,
) -> int:
    """CLI entry: 0 on success, 2 on a bad command (before JAX starts), 1 on a failed run.

    checked: the result of `preflight(argv)` when the caller already ran it (every process
    of a launch runs it, before jax.distributed starts). `progress_fn` is passed to `train`
    (tests use it to kill a process after a window).
    Multi-process (docs/SCALING.md): jax.distributed starts before anything touches the
    backend; every failure ends with one line and an immediate exit (no wait in JAX's
    shutdown barrier for a peer that may be gone); success with all processes leaving
    together (`distributed.finish`).
    """
    code, line = 0, ""
    if threading.current_thread() is threading.main_thread():
        # `kill -USR1 PID` prints every thread's Python stack: for a run that seems stuck
        faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    try:
        cfg, opts = checked or _preflight_and_join(argv)
        if checked is not None:
            plan = launch_plan(opts)  # checked by preflight
            if plan is not None:
                distributed.initialize(plan)  # before anything touches the backend
        dirs = train(
            cfg,
            checkpoint_every=opts.checkpoint_every,
            progress_fn=progress_fn,
            stall_s=opts.stall_s,
        )
    except (ConfigError, RunLocked, distributed.DistributedConfigError, FileNotFoundError) as e:
        code, line = 2, f"error: {e}"
    except TrainingFailed as e:
        code, line = 1, f"error: training failed: {e}"
    except RuntimeStalled as e:  # single-process only (stall_limit)
        # The wedged computation never ends, and Python's shutdown would wait for it.
        _leave_now(f"error: {e} (the run is marked crashed)", 1)
    except OSError as e:
        if not is_disk_full(e) and not distributed.is_multiprocess():
            raise
        if is_disk_full(e):
            where = e.filename or "the run directory"
            line = (
                f"error: no space left on device ({where}); the run is marked failed and "
                f"keeps every finished window: free space, then --resume it"
            )
        else:
            line = f"error: {distributed.process_label()} stopped: {type(e).__name__}: {e}"
        code = 1
    except Terminated as e:  # SIGTERM (e.g. ppo.launch stopping the others)
        if not distributed.is_multiprocess():
            _leave_now(str(e), 1)
        code, line = 1, f"error: {distributed.process_label()} stopped: {e}"
    except KeyboardInterrupt:
        if not distributed.is_multiprocess():
            _leave_now("interrupted", 128 + signal.SIGINT)
        raise
    except SystemExit as e:
        if not distributed.is_multiprocess():
            raise
        code, line = 1, f"error: {distributed.process_label()} stopped: {e}"
    except Exception as e:
        if not distributed.is_multiprocess():
            raise
        # e.g. a collective failing because a peer died ("Gloo all-reduce failed: ...")
        text = str(e).strip().splitlines()
        code = 1
        line = f"error: {distributed.process_label()} stopped: {type(e).__name__}: "
        line += text[0] if text else ""
    if code:
        if distributed.is_multiprocess():
            label = distributed.process_label()
            distributed.exit_now(line if label in line else f"{line} ({label})", code)
        print(line, file=sys.stderr)
        return code
    is_main = jax.process_index() == 0
    distributed.finish()
    for d in dirs if is_main else []:
        _say(f"run records: {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main(checked=_CHECKED))
