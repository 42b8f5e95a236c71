"""Training configuration: one frozen dataclass, its command line, and its checks.

Each `TrainConfig` field is declared once, with its help text and bounds (`opt`); the command
line (`build_parser`), the checks (`validate`) and the profiler's trainer options are derived
from those declarations. Every size the trainer needs is derived once (`TrainConfig.derived`),
and every bad value is rejected with a one-line message naming the flag and its bound before
anything is compiled. Importing this module does not import jax.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from envjax.argparser import OneLineParser
from ppo.records import RUN_ID_RE
from ppo.resources import check_resources

WANDB_MODES = ("online", "offline", "disabled")
EVAL_POLICIES = ("sampled", "greedy")
UINT32_MAX = 2**32 - 1
# Every float option reaches the compiled program as a float32: a value past its range
# becomes inf there, and one below its smallest normal becomes 0 (flushed), so a finite
# Python float is not enough (`--ent-coef 1e308`, `--lr 1e-320`).
F32_MAX = 3.4028234663852886e38
F32_TINY = 1.1754943508222875e-38
# Fields renamed since runs were first recorded: old run.json / flag name -> field.
RENAMED_FIELDS = {"reward_scale": "value_target_scale"}


class ConfigError(ValueError):
    """A configuration that cannot run, with a message that says why and what to change."""


def opt(
    default: Any,
    help: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    choices: tuple[str, ...] | None = None,
    pattern: Any = None,
    metavar: str | None = None,
    cli_default: Any = dataclasses.MISSING,
) -> Any:
    """A config field with its help text and bounds, read by the CLI generator and `validate`.

    lo/hi: inclusive bounds (`lo_open`: lo itself excluded); floats must also be finite.
    choices: the allowed strings. pattern: a compiled regex a string must match.
    cli_default: the command line's default when it differs from the field's (None: decided
    at parse time, the help says how).
    """
    md = {
        "help": help,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "choices": choices,
        "pattern": pattern,
        "metavar": metavar,
        "cli_default": cli_default,
    }
    return dataclasses.field(default=default, metadata=md)


@dataclass(frozen=True)
class Derived:
    """Sizes computed once from a config."""

    num_devices: int
    envs_per_device: int
    batch_size: int  # env steps per update (all devices)
    minibatch_size: int  # samples per minibatch (all devices)
    minibatch_chunk: int  # consecutive envs gathered together (divides both per-device sizes)
    steps_per_window: int
    num_windows: int
    total_updates: int


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; stored verbatim in run.json."""

    num_envs: int = opt(1024, "parallel environments (all devices)", lo=1, hi=2**24)
    rollout_steps: int = opt(64, "env steps per env per update", lo=1, hi=2**16)
    updates_per_window: int = opt(8, "updates per window", lo=1, hi=100_000)
    # 12 windows at 8,192 envs: about twice the env steps the default needs to reach the
    # learning target on the CPU (3 seeds: 16.8 M median), docs/TRAINING.md "Which config
    # learns fastest".
    total_steps: int = opt(
        50_331_648, "env steps to train (rounded up to whole windows)", lo=1, hi=10**13
    )
    epochs: int = opt(2, "PPO epochs per update", lo=1, hi=1000)
    # 128 (not 16 or 32): the same FLOPs per env step, more Adam steps per sample. On the
    # CPU, 3 seeds need 2.5x fewer env steps to the target than at 32 (16.8 M vs 41.9 M
    # median) and the update is no slower (1.06x env steps per CPU-s), docs/TRAINING.md.
    minibatches: int = opt(128, "minibatches per epoch", lo=1, hi=2**20)
    # 1 (not 8): chunks of 8 envs gather ~1.6x faster and the update runs ~1.03x faster per
    # CPU-s, but 3 seeds needed 18.9 M env steps to the target against 16.8 M
    # (docs/THROUGHPUT.md, P15): no sooner in wall-clock, so single samples stay the default.
    minibatch_chunk: int = opt(
        1,
        "minibatches are drawn as chunks of this many consecutive envs at one rollout step "
        "(1: single samples); lowered to the largest divisor of the per-device envs and "
        "minibatch size",
        lo=1,
        hi=2**20,
    )
    lr: float = opt(1e-3, "Adam learning rate", lo=0.0, lo_open=True, hi=10.0)
    anneal_lr: bool = opt(False, "anneal the learning rate linearly to 0 over the run")
    gamma: float = opt(0.99, "discount", lo=0.0, hi=1.0)
    gae_lambda: float = opt(0.95, "GAE lambda", lo=0.0, hi=1.0)
    clip: float = opt(0.2, "PPO clip range", lo=0.0, lo_open=True, hi=100.0)
    ent_coef: float = opt(0.01, "entropy bonus coefficient", lo=0.0)
    vf_coef: float = opt(0.5, "value loss coefficient", lo=0.0)
    max_grad_norm: float = opt(0.5, "global gradient clip", lo=0.0)
    value_target_scale: float = opt(
        0.1,
        "the env reward is multiplied by this before GAE, so it scales the value targets "
        "(advantages are normalised per minibatch; metrics stay in the env's units); "
        "was --reward-scale",
        lo=0.0,
        lo_open=True,
    )
    # 64 (not 128): 1.3x more env steps to the target but 1.53x more env steps per CPU-second,
    # so the target comes 1.2x sooner in wall-clock (docs/TRAINING.md).
    hidden: int = opt(64, "width of the shared MLP trunk", lo=1, hi=65_536)
    layers: int = opt(2, "hidden layers in the shared trunk", lo=1, hi=64)
    seed: int = opt(0, "training seed (uint32)", lo=0, hi=UINT32_MAX)
    action_masking: bool = opt(
        True, "mask invalid actions' logits (off: the agent learns validity from the reward)"
    )
    num_seeds: int = opt(
        1,
        "independent agents trained in one compiled program (vmap), each its own run",
        lo=1,
        hi=1024,
    )
    eval_episodes: int = opt(
        128, "episodes per evaluation on fixed seeds (0: no eval)", lo=0, hi=2**20
    )
    eval_policy: str = opt(
        "sampled",
        "policy whose eval statistics are the eval/* metrics (both are recorded)",
        choices=EVAL_POLICIES,
    )
    eval_seed_base: int = opt(1_000_000, "first eval episode seed (uint32)", lo=0, hi=UINT32_MAX)
    keep_checkpoints: int = opt(
        3, "last N checkpoints kept (the best by eval return is kept too)", lo=1, hi=1_000_000
    )
    run_dir: str = opt("runs", "directory holding runs/<run_id>/")
    run_id: str | None = opt(
        None, "run id (default: generated)", pattern=RUN_ID_RE, metavar="RUN_ID"
    )
    name: str | None = opt(None, "human-readable run name")
    wandb: str = opt(
        "offline",
        "W&B mode (default: online when WANDB_API_KEY is set, else offline)",
        choices=WANDB_MODES,
        cli_default=None,
    )
    wandb_project: str = opt("caravan", "W&B project")
    wandb_entity: str | None = opt(None, "W&B entity (default: the key's)")
    resume: str | None = opt(
        None,
        "continue RUN_ID (a run, or a --num-seeds group) from its last complete checkpoint "
        "(its config is used); a run with no checkpoint yet starts again from scratch",
        pattern=RUN_ID_RE,
        metavar="RUN_ID",
    )
    num_devices: int = opt(0, "devices to shard envs over (0: all jax.devices())", lo=0, hi=4096)
    max_wall_s: float = opt(
        0.0,
        "stop (finished) after the first window ending past this many seconds (0: off)",
        lo=0.0,
        hi=1e9,
    )

    def to_json(self) -> dict[str, Any]:
        """The config as a JSON-able dict (run.json, W&B config)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_stored(cls, stored: dict[str, Any], **changes: Any) -> TrainConfig:
        """The config a run.json holds (renamed fields mapped, unknown keys dropped), with
        `changes` applied; ConfigError when a stored value has the wrong type or bounds."""
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {RENAMED_FIELDS.get(k, k): v for k, v in stored.items()}
        kw = {k: v for k, v in kw.items() if k in known}
        kw.update(changes)
        cfg = cls(**kw)
        errs = field_errors(cfg)
        if errs:
            raise ConfigError(errs[0] if len(errs) == 1 else joined_errors(errs))
        return cfg

    def derived(self, device_count: int) -> Derived:
        """Derived sizes for `device_count` devices; raises ConfigError when inconsistent."""
        validate(self, device_count)
        return derive(self, device_count)


def derive(cfg: TrainConfig, device_count: int) -> Derived:
    """Derived sizes, unchecked (validate first)."""
    nd = cfg.num_devices or device_count
    batch = cfg.num_envs * cfg.rollout_steps
    spw = batch * cfg.updates_per_window
    num_windows = max(1, math.ceil(cfg.total_steps / spw))
    # A chunk never spans two rollout steps or two minibatches.
    chunk = math.gcd(cfg.minibatch_chunk, cfg.num_envs // nd, batch // nd // cfg.minibatches)
    return Derived(
        num_devices=nd,
        envs_per_device=cfg.num_envs // nd,
        batch_size=batch,
        minibatch_size=batch // cfg.minibatches,
        minibatch_chunk=max(chunk, 1),
        steps_per_window=spw,
        num_windows=num_windows,
        total_updates=num_windows * cfg.updates_per_window,
    )


DEFAULT_PEER_TIMEOUT_S = 10
DEFAULT_JOIN_TIMEOUT_S = 120
LAUNCH_GROUP = (
    "multi-process (one process per host; see docs/SCALING.md)",
    "Give all three of --coordinator/--num-processes/--process-id, or the JAX_COORDINATOR_"
    "ADDRESS/JAX_NUM_PROCESSES/JAX_PROCESS_ID variables, or --coordinator auto under "
    "SLURM/Open MPI/Kubernetes. Without any of them the run is a single process.",
)


@dataclass(frozen=True)
class DistConfig:
    """The multi-process flags as given on the command line (None: not given); resolved
    against the environment by ppo.distributed.resolve."""

    coordinator: str | None = opt(
        None,
        "HOST:PORT of process 0's coordinator, or 'auto' (checked by ppo.distributed.resolve, "
        "with the JAX_* variables)",
        metavar="HOST:PORT",
    )
    num_processes: int | None = opt(None, "processes in the launch", lo=1, hi=65_536)
    process_id: int | None = opt(None, "this process's index, 0..N-1", lo=0, hi=65_535)
    peer_timeout_s: int = opt(
        DEFAULT_PEER_TIMEOUT_S,
        "a peer silent this long is dead: the others stop (run marked crashed)",
        lo=1,
        hi=86_400,
    )
    join_timeout_s: int = opt(
        DEFAULT_JOIN_TIMEOUT_S,
        "all processes must have joined within this many seconds",
        lo=1,
        hi=86_400,
    )


@dataclass(frozen=True)
class RunOptions:
    """How this process runs a launch, beyond what the run is (not stored in run.json)."""

    checkpoint_every: int = opt(
        1,
        "checkpoint every N-th window (0: never); the run's final window is always "
        "checkpointed when N > 0",
        lo=0,
        hi=10**9,
        metavar="N",
    )
    # 120 s: a running CPU window keeps XLA's threads busy all the time; a wedged runtime
    # leaves them idle, and nothing in-process can cancel it (ppo.ready).
    stall_s: float = opt(
        120.0,
        "single-process CPU runs: end the run (marked crashed, resumable) when a window or "
        "eval leaves XLA's threads idle for this many seconds: a wedged runtime (0: wait "
        "forever)",
        lo=0.0,
        hi=1e9,
    )
    # multi-process settings: a group of flags of their own (frozen, so one default is safe)
    launch: DistConfig = dataclasses.field(
        default_factory=DistConfig, metadata={"group": DistConfig}
    )


def flag(name: str) -> str:
    """The command-line flag of field `name`."""
    return "--" + name.replace("_", "-")


def _bound_text(md: dict[str, Any], is_float: bool) -> str:
    lo, hi = md["lo"], md["hi"]
    if lo is not None and hi is not None and not md["lo_open"]:
        return f"in [{lo:g}, {hi:g}]" if is_float else f"in [{lo}, {hi}]"
    parts = []
    if lo is not None:
        parts.append(f"{'>' if md['lo_open'] else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    return " and ".join(parts)


def check_field(name: str, kind: str, value: Any, md: dict[str, Any]) -> str | None:
    """The one-line error for `value` of field `name` (kind int, float, bool, str or
    optional str), or None when it is valid."""
    f = flag(name)
    if kind == "int | None":
        if value is None:
            return None
        kind = "int"
    if kind == "bool":
        return None if isinstance(value, bool) else f"{f} must be true or false (got {value!r})"
    if kind in ("str", "str | None"):
        if value is None and kind == "str | None":
            return None
        if not isinstance(value, str):
            return f"{f} must be a string (got {value!r})"
        if md["choices"] and value not in md["choices"]:
            return f"{f} must be one of {', '.join(md['choices'])} (got {value!r})"
        if md["pattern"] is not None and not md["pattern"].match(value):
            return f"{f} {value!r} must match {md['pattern'].pattern}"
        return None
    lo, hi = md["lo"], md["hi"]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{f} must be an integer (got {value!r})"
        if lo is not None and value < lo:
            return f"{f} must be >= {lo} (got {value})"
        if hi is not None and value > hi:
            return f"{f} must be <= {hi} (got {value})"
        return None
    # float
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{f} must be a finite number {_bound_text(md, True)} (got {value!r})"
    positive = lo == 0 and md["lo_open"]
    if math.isfinite(value) and (abs(value) > F32_MAX or 0 < abs(value) < F32_TINY):
        zero = "" if positive else "0 or "
        return (
            f"{f} must be {zero}of magnitude in [{F32_TINY:.4g}, {F32_MAX:.4g}] "
            f"(float32; got {value})"
        )
    ok = math.isfinite(value)
    ok = ok and (lo is None or (value > lo if md["lo_open"] else value >= lo))
    ok = ok and (hi is None or value <= hi)
    if ok:
        return None
    if positive and (not math.isfinite(value) or value <= 0):
        return f"{f} must be a positive finite number (got {value})"
    if not math.isfinite(value):
        return f"{f} must be a finite number {_bound_text(md, True)} (got {value})"
    return f"{f} must be {_bound_text(md, True)} (got {value})"


def field_kind(field: dataclasses.Field) -> str:
    """int, float, bool, str, "str | None" or "int | None": the kind of a config field."""
    return str(field.type).replace("Optional[str]", "str | None")


def field_errors(obj: Any) -> list[str]:
    """One message per field of a TrainConfig, RunOptions or DistConfig outside its type or
    bounds (a nested group of fields is checked too)."""
    errs = []
    for fld in dataclasses.fields(obj):
        if "group" in fld.metadata:
            errs += field_errors(getattr(obj, fld.name))
            continue
        msg = check_field(fld.name, field_kind(fld), getattr(obj, fld.name), dict(fld.metadata))
        if msg:
            errs.append(msg)
    return errs


def joined_errors(errs: list[str]) -> str:
    return "invalid configuration:\n  - " + "\n  - ".join(errs)


def validate_static(cfg: TrainConfig) -> None:
    """Every check that needs no device: field types and bounds, run sizes, the run's memory
    estimate against this machine (ppo.resources). One ConfigError listing every problem
    (a single problem is a single line)."""
    errs = field_errors(cfg)
    if not errs:
        errs += _size_errors(cfg, device_count=max(cfg.num_devices, 1))
    if errs:
        raise ConfigError(errs[0] if len(errs) == 1 else joined_errors(errs))


def _size_errors(cfg: TrainConfig, device_count: int) -> list[str]:
    errs: list[str] = []
    nd = cfg.num_devices or device_count
    if cfg.num_envs % nd:
        errs.append(
            f"--num-envs {cfg.num_envs} must be divisible by the device count {nd} "
            f"(envs are sharded evenly across devices)"
        )
    batch = cfg.num_envs * cfg.rollout_steps
    if batch // nd >= 2**31:  # ppo.window indexes a device's batch with int32 (shuffle)
        errs.append(
            f"the per-device batch --num-envs/devices x --rollout-steps = {batch // nd:,} "
            f"must be below 2**31 = {2**31:,}; lower them or use more devices"
        )
    if (batch // nd) % cfg.minibatches:
        errs.append(
            f"the per-device batch --num-envs/devices x --rollout-steps = "
            f"{batch // nd} must be divisible by --minibatches {cfg.minibatches}"
        )
    if cfg.eval_seed_base + cfg.eval_episodes - 1 > UINT32_MAX:
        errs.append(
            f"--eval-seed-base + --eval-episodes must stay within uint32 "
            f"(<= {UINT32_MAX + 1}, got {cfg.eval_seed_base + cfg.eval_episodes})"
        )
    if not errs:
        errs += check_resources(cfg, derive(cfg, nd))
    return errs


def validate(cfg: TrainConfig, device_count: int) -> None:
    """Reject bad values with one message listing every problem (one line for one)."""
    errs = field_errors(cfg)
    if not errs and cfg.num_devices > device_count:
        errs.append(f"--num-devices {cfg.num_devices} > the {device_count} devices jax sees")
    if not errs:
        errs += _size_errors(cfg, device_count)
    if errs:
        raise ConfigError(errs[0] if len(errs) == 1 else joined_errors(errs))


def default_wandb_mode() -> str:
    """`online` when WANDB_API_KEY is set, else `offline`."""
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None ones (their help says what happens instead)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class _Parser(OneLineParser):
    """One-line errors naming the flag (exit 2); any negative number read as a value."""


_WARNED: set[str] = set()  # a command line is parsed more than once (preflight, main)


def _warn_deprecated(argv: list[str]) -> None:
    """Warn once per process per old flag name (RENAMED_FIELDS) used on the command line."""
    for old, new in RENAMED_FIELDS.items():
        name = flag(old)
        if name in _WARNED:
            continue
        if any(a == name or a.startswith(name + "=") for a in argv):
            _WARNED.add(name)
            warnings.warn(
                f"{name} is deprecated and will be removed in the next release; use {flag(new)}",
                DeprecationWarning,
                stacklevel=3,
            )
            print(f"warning: {name} is deprecated; use {flag(new)}", file=sys.stderr)


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _parse_int(text: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def add_fields(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    only: tuple[str, ...] | None = None,
    defaults: dict[str, Any] | None = None,
    prefix: str = "",
    suffix: str = "",
) -> None:
    """Add one flag per field of the dataclass `cls` (declared with `opt`) to `parser`.

    only: the fields to add (default all). defaults: replaces fields' defaults. prefix:
    a prefix for the flags (dest stays the field name). suffix: appended to every help.
    """
    for fld in dataclasses.fields(cls):
        if only is not None and fld.name not in only:
            continue
        md = dict(fld.metadata)
        if "group" in md:  # a nested dataclass of options: its own titled group of flags
            title, description = GROUP_TITLES[md["group"].__name__]
            add_fields(parser.add_argument_group(title, description), md["group"])
            continue
        kind = field_kind(fld)
        default = fld.default if md["cli_default"] is dataclasses.MISSING else md["cli_default"]
        if defaults and fld.name in defaults:
            default = defaults[fld.name]
        kw: dict[str, Any] = {"default": default, "help": md["help"] + suffix, "dest": fld.name}
        name = "--" + prefix + fld.name.replace("_", "-")
        if kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif kind in ("int", "int | None"):
            kw["type"] = _parse_int
        elif kind == "float":
            kw["type"] = _parse_float
        if md["choices"]:
            kw["choices"] = md["choices"]
        if md["metavar"]:
            kw["metavar"] = md["metavar"]
        parser.add_argument(name, **kw)
        for old, new in RENAMED_FIELDS.items():
            if new == fld.name:
                parser.add_argument(  # deprecated alias: parse_command warns
                    "--" + prefix + old.replace("_", "-"),
                    dest=fld.name,
                    type=kw["type"],
                    default=argparse.SUPPRESS,
                    help=argparse.SUPPRESS,
                )


GROUP_TITLES = {"DistConfig": LAUNCH_GROUP}


def build_parser() -> argparse.ArgumentParser:
    """The `python -m ppo.train` command line, generated from TrainConfig and RunOptions."""
    d = TrainConfig()
    p = _Parser(
        prog="python -m ppo.train",
        description=(
            "Train a PPO agent on Caravan. One compiled call runs one window of "
            "--updates-per-window updates; between windows the host evaluates, checkpoints, "
            "logs and prints progress. `--num-envs 8192` with every other flag at its "
            f"default ({d.total_steps:,} env steps) is the config that reaches the heuristic "
            "trader's profit soonest (docs/TRAINING.md); `make run` is a short run "
            "(--total-steps 4194304)."
        ),
        formatter_class=_HelpFormatter,
    )
    add_fields(p, TrainConfig)
    add_fields(p, RunOptions)
    return p


def parse_command(argv: list[str] | None = None) -> tuple[TrainConfig, RunOptions]:
    """Parse the command line into a TrainConfig (not yet validated) and the process's
    RunOptions (validated); SystemExit(2) for an unparsable value."""
    argv = sys.argv[1:] if argv is None else argv
    kw = vars(build_parser().parse_args(argv))
    _warn_deprecated(argv)
    launch = DistConfig(**{f.name: kw.pop(f.name) for f in dataclasses.fields(DistConfig)})
    run_fields = [f.name for f in dataclasses.fields(RunOptions) if f.name != "launch"]
    opts = RunOptions(launch=launch, **{name: kw.pop(name) for name in run_fields})
    errs = field_errors(opts)
    if errs:
        raise ConfigError(errs[0])
    if kw["wandb"] is None:
        kw["wandb"] = default_wandb_mode()
    return TrainConfig(**kw), opts


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse the command line into a TrainConfig (not yet validated against devices)."""
    return parse_command(argv)[0]
