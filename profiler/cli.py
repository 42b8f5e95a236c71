"""`python -m profiler`: parse the command line, run each job in its own process, report.

Exit codes: 0 measured (and, with --enforce-target, every check passed); 1 a check missed
under --enforce-target (one-line reason on stderr); 2 bad input; 3 a mode could not run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from pathlib import Path

from profiler import gates as gates_mod
from profiler import report as report_mod
from profiler.config import (
    CEILING_LEVELS,
    DEFAULT_NUM_ENVS,
    DEFAULT_TARGET_STEPS_PER_SEC,
    ENV_VARIANTS,
    MODES,
    ConfigError,
    ProfilerConfig,
    default_target_modes,
    parse_modes,
    parse_override,
    parse_sweep,
    validate,
)
from profiler.jobs import measure_all, resolve_sizes
from profiler.system import (
    REPO_ROOT,
    code_version,
    host_info,
    load_average,
    source_digests,
    utc_timestamp,
)
from profiler.worker import DIST_ENV, TRAINER_MODES

EXIT_OK, EXIT_MISS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    """The profiler's command line."""
    p = argparse.ArgumentParser(
        prog="python -m profiler",
        description="Measure Caravan env steps/s per mode next to the device's ceiling.",
        epilog="Exit codes: 0 ok, 1 target missed (--enforce-target), 2 bad input, "
        "3 a mode failed to run. Details: docs/THROUGHPUT.md",
    )
    p.add_argument(
        "--mode",
        default="all",
        help=f"all, or one or more (comma-separated) of: {', '.join(MODES)}",
    )
    p.add_argument(
        "--num-envs",
        type=int,
        default=DEFAULT_NUM_ENVS,
        help="parallel envs of the vectorised modes (default %(default)s)",
    )
    p.add_argument(
        "--rollout-steps",
        type=int,
        default=None,
        help="steps per env per update (default: ppo.config.TrainConfig's)",
    )
    p.add_argument(
        "--updates-per-window",
        type=int,
        default=None,
        help="updates per compiled window (default: ppo.config.TrainConfig's)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed calls per mode (default 5)")
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed calls after compiling, per mode (default 1)"
    )
    p.add_argument(
        "--reference-steps",
        type=int,
        default=20_000,
        help="reference-env steps per timed call (default %(default)s)",
    )
    p.add_argument(
        "--sweep",
        default=None,
        metavar="KEY=V1,V2,...",
        help="run every selected mode at each value, e.g. num_envs=1024,4096,8192; "
        "also writes a PNG (see --plot)",
    )
    p.add_argument(
        "--target-steps-per-sec",
        type=float,
        default=DEFAULT_TARGET_STEPS_PER_SEC,
        help="median env steps/s each target mode must reach (default 100000)",
    )
    p.add_argument(
        "--target-modes",
        default=None,
        help="modes the target applies to (default: every selected mode but "
        "reference, which is only judged when run alone)",
    )
    p.add_argument(
        "--enforce-target",
        action="store_true",
        help="exit 1 with a one-line reason when any check misses",
    )
    p.add_argument(
        "--gate-file",
        default=None,
        help="JSON of calibrated floors that replace the targets (make gate)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="report JSON path (default artifacts/tmp/throughput-<time>.json)",
    )
    p.add_argument(
        "--plot", default=None, help="sweep PNG path (default: next to --out, ending -sweep.png)"
    )
    p.add_argument(
        "--ceiling",
        default="full",
        choices=CEILING_LEVELS,
        help="device ceiling measurement size (default full)",
    )
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="eval episodes per window in trainer+eval (default: the trainer's)",
    )
    p.add_argument(
        "--xla-flags",
        default=None,
        help="extra XLA_FLAGS for the measured processes (recorded in the report)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a ppo TrainConfig field in the trainer modes, e.g. "
        "--set epochs=1 --set hidden=64 (repeatable)",
    )
    p.add_argument(
        "--env-variant",
        default="auto-reset",
        choices=ENV_VARIANTS,
        help="env-only diagnostic: auto-reset (what trainers run, default), "
        "no-reset (step_env: the auto-reset's cost), full-info (costly info on)",
    )
    p.add_argument(
        "--vs-peer",
        action="store_true",
        help="with --mode trainer: also alternate ppo's compiled window and a textbook PPO loop "
        "(benchmarks/peer.py) --repeats times each in one process, same sizes; the medians and "
        "their ratio go to the report's `peer`",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of envs and trainer (default 0)")
    p.add_argument(
        "--run-dir",
        default=None,
        help="where trainer+eval writes its throwaway run records "
        "(default: a temporary folder, removed afterwards)",
    )
    try:
        from ppo import distributed
    except ImportError:  # ppo absent: single-process only
        return p
    distributed.add_arguments(p)  # set by `python -m ppo.launch --module profiler`
    return p


def launch_plan(argv: list[str] | None, cfg: ProfilerConfig):
    """The multi-process launch this profiler process is part of (None: single process).

    Under a launch exactly one trainer mode is measured (its workers join one
    jax.distributed run; the other modes have no multi-process form). Raises ConfigError.
    """
    try:
        from ppo import distributed
    except ImportError:
        return None
    kw = vars(build_parser().parse_args(argv))
    try:
        plan = distributed.resolve(distributed.pop_config(kw), os.environ)
    except distributed.DistributedConfigError as exc:
        raise ConfigError(str(exc)) from None
    if plan is not None and (
        len(cfg.modes) != 1 or cfg.modes[0] not in TRAINER_MODES or cfg.sweep is not None
    ):
        raise ConfigError(
            "a multi-process launch measures one trainer mode: use --mode trainer or "
            "--mode trainer+eval, without --sweep"
        )
    return plan


def config_from_args(argv: list[str] | None) -> ProfilerConfig:
    """Parse and validate; raises ConfigError for bad values (argparse exits for bad types)."""
    a = build_parser().parse_args(argv)
    modes = parse_modes(a.mode)
    target_modes = parse_modes(a.target_modes) if a.target_modes else default_target_modes(modes)
    cfg = ProfilerConfig(
        modes=modes,
        num_envs=a.num_envs,
        rollout_steps=a.rollout_steps,
        updates_per_window=a.updates_per_window,
        repeats=a.repeats,
        warmup=a.warmup,
        reference_steps=a.reference_steps,
        sweep=parse_sweep(a.sweep) if a.sweep else None,
        target_steps_per_sec=a.target_steps_per_sec,
        target_modes=target_modes,
        enforce_target=a.enforce_target,
        gate_file=a.gate_file,
        out=a.out,
        plot=a.plot,
        ceiling=a.ceiling,
        eval_episodes=a.eval_episodes,
        xla_flags=a.xla_flags,
        seed=a.seed,
        run_dir=a.run_dir,
        trainer_overrides=tuple(parse_override(t) for t in a.set),
        env_variant=a.env_variant,
        vs_peer=a.vs_peer,
    )
    return validate(cfg)


def _say(msg: str) -> None:
    print(f"profiler: {msg}", file=sys.stderr, flush=True)


def _terminate(signum: int, _frame: object) -> None:
    # Unwinding through subprocess.run kills the running worker too.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    try:
        cfg = config_from_args(argv)
        sizes = resolve_sizes(cfg)
        gates = gates_mod.load(cfg.gate_file) if cfg.gate_file else gates_mod.from_config(cfg)
        gates_mod.check_config_matches(
            gates, {**sizes, "trainer_overrides": dict(cfg.trainer_overrides)}
        )
        plan = launch_plan(argv, cfg)
    except ConfigError as exc:
        print(f"python -m profiler: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if plan is not None:
        # Processes sharing a box would skew each other's ceilings; the trainer is the point.
        cfg = dataclasses.replace(cfg, ceiling="off")
        os.environ[DIST_ENV] = json.dumps(dataclasses.asdict(plan))

    started = utc_timestamp()
    digests = source_digests()
    host = host_info()
    load_start = load_average()
    _say(f"load average at start {load_start} on {host['cpu_count_logical']} cores")
    ceiling, jax_sys, runs, errors, peer = measure_all(cfg, sizes, _say)
    if plan is not None and runs and runs[0]["details"].get("process_id", 0) != 0:
        # process 0 writes the report with every process's figures; this one only says its own
        me = runs[0]["details"]["processes"][runs[0]["details"]["process_id"]]
        print(_process_line(me))
        _say("the report is written by process 0")
        return EXIT_OK

    if jax_sys is None:
        from profiler.system import jax_info

        jax_sys = jax_info()
    primary = gates_mod.primary_runs(runs, cfg.num_envs)
    ratios = gates_mod.derived(primary)
    checks = gates_mod.evaluate(gates, primary, ratios)
    out = cfg.out or str(
        REPO_ROOT / "artifacts" / "tmp" / f"throughput-{started.replace(':', '')}.json"
    )
    plot = None
    if cfg.sweep is not None:
        plot = cfg.plot or str(Path(out).with_suffix("")) + "-sweep.png"
    report = {
        **report_mod.skeleton(),
        "timestamp": started,
        "finished_at": utc_timestamp(),
        "code_version": code_version(),
        "source_digests": digests,
        "command": ["python", "-m", "profiler", *(sys.argv[1:] if argv is None else argv)],
        "config": {**cfg.to_json(), "resolved": sizes},
        "system": {
            **host,
            **jax_sys,
            "load_average_start": load_start,
            "load_average_end": load_average(),
        },
        "ceiling": ceiling,
        "runs": runs,
        "derived": ratios,
        "target": {
            "steps_per_sec": cfg.target_steps_per_sec,
            "modes": list(cfg.target_modes),
            "enforced": cfg.enforce_target,
            "gates": gates.source,
        },
        "checks": checks,
        "passed": all(c["passed"] for c in checks) and not errors,
        "errors": errors,
        "peer": peer,
        "sweep": None
        if cfg.sweep is None
        else {"key": cfg.sweep.key, "values": list(cfg.sweep.values), "plot": plot},
    }
    try:
        report_mod.validate(report)
    except Exception as exc:  # keep the measurements even when the report breaks its schema
        bad = str(Path(out).with_suffix("")) + ".invalid.json"
        report_mod.write_json(bad, report)
        print(
            f"python -m profiler: error: report breaks its schema ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}); written to {bad}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    report_mod.write_json(out, report)
    if plot is not None and runs:
        from profiler.plot import sweep_png

        sweep_png(report, plot)
        _say(f"sweep plot written to {plot}")
    print(report_mod.table(report))
    for run in runs:
        for proc in run["details"].get("processes") or []:
            print(_process_line(proc))
    _say(f"report written to {out}")

    if errors:
        print(f"python -m profiler: error: {_error_line(errors)}", file=sys.stderr)
        return EXIT_USAGE if all(e["kind"] == "config" for e in errors) else EXIT_FAILED
    if cfg.enforce_target:
        line = gates_mod.failure_line(checks)
        if line:
            print(f"python -m profiler: {line}", file=sys.stderr)
            return EXIT_MISS
        if not checks:
            print(
                "python -m profiler: --enforce-target: no check applied to the measured modes",
                file=sys.stderr,
            )
            return EXIT_MISS
    return EXIT_OK


def _process_line(p: dict) -> str:
    """One process's figures of a multi-process trainer run."""
    return (
        f"process {p['process_id']} on {p['host']}: {p['local_devices']} device(s), "
        f"{p['envs']:,} envs, {p['steps_per_sec_p50']:,.0f} steps/s (its envs' share), "
        f"{p['call_seconds_p50']:.3f} s per window, {p['process_cpu_s']:.2f} CPU-s, "
        f"peak RSS {p['peak_rss_bytes'] / 2**20:,.0f} MiB"
    )


def _error_line(errors: list[dict]) -> str:
    return "; ".join(f"{e['job']}: {e['error']}" for e in errors).replace("\n", " ")
