"""Everything `python -m ppo.train` checks before JAX starts (no jax import here).

The command line (types and bounds of every field, ppo.config), the run's memory estimate
(ppo.resources), the multi-process flags (ppo.distributed), `--run-dir` (a directory this
process can write), `--resume` (the run or `--num-seeds` group exists and its stored config
is valid) and the run lock (no live trainer on the run). Every process of a launch runs
them before jax.distributed starts. Each failure is a ConfigError or RunLocked with one line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ppo import distributed
from ppo.config import (
    ConfigError,
    RunOptions,
    TrainConfig,
    field_errors,
    flag,
    joined_errors,
    parse_command,
    validate_static,
)
from ppo.distributed import Plan
from ppo.records import DamagedRecord, read_run
from ppo.runlock import RunLocked, check_unlocked

# The values wandb.Settings accepts for WANDB_MODE (it reads the variable even when the mode
# is passed to wandb.init, and a bad one turned W&B off mid-start with a pydantic error).
WANDB_ENV_MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")


def check_wandb_env(mode: str, env: Mapping[str, str]) -> None:
    """ConfigError when W&B will start (`mode` not disabled) and WANDB_MODE is not a mode."""
    value = env.get("WANDB_MODE")
    if mode != "disabled" and value is not None and value not in WANDB_ENV_MODES:
        raise ConfigError(
            f"WANDB_MODE={value!r} is not a W&B mode ({', '.join(WANDB_ENV_MODES)}); "
            "fix or unset it, or pass --wandb disabled"
        )


def check_run_dir(run_dir: str) -> None:
    """ConfigError unless `run_dir` is (or can be created as) a directory we can write."""
    if not run_dir.strip():
        raise ConfigError("--run-dir must not be empty (use . for this folder)")
    p = Path(run_dir)
    if p.is_symlink() and not p.exists():
        raise ConfigError(f"--run-dir {run_dir} is a broken or looping symbolic link")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--run-dir {run_dir} is a file, not a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--run-dir {run_dir} cannot be created: {e.strerror}") from None
    try:
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as e:
        raise ConfigError(f"--run-dir {run_dir} is not writable: {e.strerror}") from None


def resolve_resume(cfg: TrainConfig) -> tuple[TrainConfig, list[str], str | None]:
    """The stored config of the run to resume (the command line's run_dir, wandb and
    resume kept), its run ids and its group.

    `--resume` names a run or a `--num-seeds` group (its runs are `<group>-s<i>`); either
    resumes every run of the launch. FileNotFoundError when there is no such run;
    ConfigError when its stored config is not a valid TrainConfig.
    """
    assert cfg.resume is not None
    # --resume names a folder under --run-dir: its pattern (and every other field the command
    # line gave) must hold before anything is read (`--resume ../x`, `--resume ''`).
    errs = field_errors(cfg)
    if errs:
        raise ConfigError(errs[0] if len(errs) == 1 else joined_errors(errs))
    root = Path(cfg.run_dir)
    run_dir = root / cfg.resume
    if not (run_dir / "run.json").is_file() and (root / f"{cfg.resume}-s0/run.json").is_file():
        first = _read_meta(cfg.resume, root / f"{cfg.resume}-s0")
        if first.get("group") == cfg.resume:
            run_dir = root / f"{cfg.resume}-s0"
    meta = _read_meta(cfg.resume, run_dir)
    stored = meta.get("config")
    if not isinstance(stored, dict):
        raise ConfigError(f"run {cfg.resume}: {run_dir / 'run.json'} holds no config object")
    try:
        new = TrainConfig.from_stored(
            stored, run_dir=cfg.run_dir, wandb=cfg.wandb, resume=cfg.resume
        )
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"run {cfg.resume}'s stored config ({run_dir}/run.json): {e}") from None
    _refuse_ignored_flags(cfg, new)
    group = meta.get("group")
    if new.num_seeds > 1 and group:
        ids = [f"{group}-s{i}" for i in range(new.num_seeds)]
    else:
        ids = [run_dir.name]
    return new, ids, group


def _refuse_ignored_flags(given: TrainConfig, stored: TrainConfig) -> None:
    """ConfigError when the command line sets a run field (away from its default) to a value
    other than the stored one: --resume continues the run as stored, so such a flag would be
    silently ignored (`--resume r --num-seeds 4` on a single run, a new --max-wall-s)."""
    default = TrainConfig()
    kept = {"run_dir", "wandb", "resume"}  # taken from the command line
    clash = [
        f"{flag(f.name)} {getattr(given, f.name)!r} (stored: {getattr(stored, f.name)!r})"
        for f in dataclasses.fields(TrainConfig)
        if f.name not in kept
        and getattr(given, f.name) != getattr(default, f.name)
        and getattr(given, f.name) != getattr(stored, f.name)
    ]
    if clash:
        raise ConfigError(
            f"--resume {given.resume} continues the run with its stored config; drop "
            + ", ".join(clash)
        )


def _read_meta(run_id: str, run_dir: Path) -> dict[str, Any]:
    try:
        return read_run(run_dir)
    except DamagedRecord as e:
        raise ConfigError(f"cannot resume {run_id}: {e}") from None


def preflight(argv: list[str] | None = None) -> tuple[TrainConfig, RunOptions]:
    """Parse and check a `python -m ppo.train` command line before any heavy work.

    Returns the parsed config (a resume is resolved again by `train`) and run options.
    Raises ConfigError, FileNotFoundError (unknown --resume) or ppo.runlock.RunLocked;
    SystemExit(2) for a value that does not parse.
    """
    cfg, opts = parse_command(argv)
    launch_plan(opts)
    checked, run_ids = cfg, list[str]()
    if cfg.resume is not None:
        checked, run_ids, _ = resolve_resume(cfg)
    elif cfg.run_id is not None:
        n = cfg.num_seeds if isinstance(cfg.num_seeds, int) else 1
        run_ids = [f"{cfg.run_id}-s{i}" for i in range(n)] if n > 1 else [cfg.run_id]
    validate_static(checked)
    check_wandb_env(cfg.wandb, os.environ)
    check_run_dir(cfg.run_dir)
    for rid in run_ids:
        check_unlocked(Path(cfg.run_dir) / rid)
        if cfg.resume is None and (Path(cfg.run_dir) / rid / "run.json").exists():
            # the same line train() gives after taking the lock (it checks again, racing
            # launches included); here it comes before jax starts
            raise ConfigError(f"run {rid} already exists in {cfg.run_dir}; use --resume {rid}")
    return cfg, opts


def launch_plan(opts: RunOptions) -> Plan | None:
    """The multi-process launch these options and the environment name (None: a single
    process); ConfigError when they are inconsistent."""
    try:
        return distributed.resolve(opts.launch, os.environ)
    except distributed.DistributedConfigError as e:
        raise ConfigError(str(e)) from None


def exit_on_bad_command(argv: list[str]) -> tuple[TrainConfig, RunOptions] | None:
    """`preflight(argv)`, or exit 2 with one `error: ...` line on stderr.

    None (no exit) when a check failed in a multi-process launch: ppo.train.main joins the
    launch first and then leaves with the same line, so its peers stop at once instead of
    waiting --join-timeout-s for a process that never joins.
    """
    try:
        return preflight(argv)
    except (ConfigError, RunLocked, FileNotFoundError) as e:
        try:
            plan = launch_plan(parse_command(argv)[1])
        except ConfigError:
            plan = None
        if plan is not None:
            return None
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
