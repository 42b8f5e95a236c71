"""The profiler's one frozen config, built from the command line and checked before any work.

Everything here is pure: parsing and validation raise `ConfigError` with a message meant for
the person who typed the command.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ppo.config import TrainConfig

MODES: tuple[str, ...] = ("reference", "env-only", "trainer", "trainer+eval")
TRAINER_MODES: frozenset[str] = frozenset({"trainer", "trainer+eval"})
SWEEP_KEYS: tuple[str, ...] = ("num_envs", "rollout_steps", "updates_per_window")
CEILING_LEVELS: tuple[str, ...] = ("full", "quick", "off")
ENV_VARIANTS: tuple[str, ...] = ("auto-reset", "no-reset", "full-info")

DEFAULT_TARGET_STEPS_PER_SEC = 100_000.0
DEFAULT_NUM_ENVS = 8192
# The profiler's own counts: bounds that keep a typo from running for days.
MAX_REPEATS, MAX_WARMUP, MAX_REFERENCE_STEPS = 10_000, 1_000, 100_000_000


class ConfigError(ValueError):
    """A bad command-line value; the message is shown to the user as is."""


@dataclass(frozen=True)
class Sweep:
    """`--sweep key=v1,v2,...`: run every selected mode once per value."""

    key: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class ProfilerConfig:
    """Full profiler configuration; `None` sizes mean "the trainer's default"."""

    modes: tuple[str, ...]
    num_envs: int = DEFAULT_NUM_ENVS
    rollout_steps: int | None = None
    updates_per_window: int | None = None
    repeats: int = 5
    warmup: int = 1
    reference_steps: int = 20_000
    sweep: Sweep | None = None
    target_steps_per_sec: float = DEFAULT_TARGET_STEPS_PER_SEC
    target_modes: tuple[str, ...] = ()
    enforce_target: bool = False
    gate_file: str | None = None
    out: str | None = None
    plot: str | None = None
    ceiling: str = "full"
    eval_episodes: int | None = None
    xla_flags: str | None = None
    seed: int = 0
    run_dir: str | None = None
    trainer_overrides: tuple[tuple[str, bool | int | float | str], ...] = ()
    env_variant: str = "auto-reset"
    vs_peer: bool = False

    def to_json(self) -> dict:
        """The config as plain JSON values (the report's `config`)."""
        d = dataclasses.asdict(self)
        d["modes"] = list(self.modes)
        d["target_modes"] = list(self.target_modes)
        d["trainer_overrides"] = dict(self.trainer_overrides)
        if self.sweep is not None:
            d["sweep"] = {"key": self.sweep.key, "values": list(self.sweep.values)}
        return d


def parse_modes(text: str) -> tuple[str, ...]:
    """`all`, one mode, or a comma-separated list of modes, in canonical order."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError("--mode is empty; use one of: all, " + ", ".join(MODES))
    if parts == ["all"]:
        return MODES
    unknown = [p for p in parts if p not in MODES]
    if unknown:
        raise ConfigError(
            f"--mode: unknown mode {unknown[0]!r}; use all or one or more of: " + ", ".join(MODES)
        )
    return tuple(m for m in MODES if m in parts)


MAX_SWEEP_POINTS = 64


def parse_sweep(text: str) -> Sweep:
    """Parse `key=v1,v2,...` with positive integer values, kept in the given order."""
    key, sep, rest = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep:
        raise ConfigError(f"--sweep {text!r}: expected KEY=V1,V2,... such as num_envs=1024,4096")
    if key not in SWEEP_KEYS:
        raise ConfigError(f"--sweep: unknown key {key!r}; use one of: " + ", ".join(SWEEP_KEYS))
    raw = [v.strip().replace("_", "") for v in rest.split(",") if v.strip()]
    if not raw:
        raise ConfigError(f"--sweep {text!r}: no values after '='")
    if len(raw) > MAX_SWEEP_POINTS:
        # each point is a compiled, timed run: thousands would run for days
        raise ConfigError(f"--sweep: at most {MAX_SWEEP_POINTS} values (got {len(raw)})")
    values: list[int] = []
    for v in raw:
        try:
            n = int(v)
        except ValueError:
            raise ConfigError(f"--sweep: {v!r} is not an integer") from None
        if n <= 0:
            raise ConfigError(f"--sweep: values must be positive, got {n}")
        if n in values:
            raise ConfigError(f"--sweep: value {n} is listed twice")
        values.append(n)
    return Sweep(key=key, values=tuple(values))


# Trainer fields the profiler sets itself (or that would break a timed run).
_RESERVED_OVERRIDES = {
    "num_envs": "--num-envs",
    "rollout_steps": "--rollout-steps",
    "updates_per_window": "--updates-per-window",
    "seed": "--seed",
    "eval_episodes": "--eval-episodes",
    "total_steps": "--repeats/--warmup",
    "run_dir": "--run-dir",
    "run_id": None,
    "resume": None,
    "wandb": None,
}


def parse_override(text: str) -> tuple[str, bool | int | float | str]:
    """`--set KEY=VALUE` for a ppo TrainConfig field: ints, floats and true/false typed."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    raw = raw.strip()
    if not sep or not key or not raw:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE such as epochs=1")
    if key in _RESERVED_OVERRIDES:
        flag = _RESERVED_OVERRIDES[key]
        hint = f"use {flag}" if flag else "the profiler sets it"
        raise ConfigError(f"--set {key}: not allowed here ({hint})")
    value: bool | int | float | str
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return key, value


def default_target_modes(modes: tuple[str, ...]) -> tuple[str, ...]:
    """The modes the steps/s target applies to: all but the plain-Python baseline.

    The reference env is one Python env and exists to be compared against, so it is checked
    against the target only when it is the only mode selected.
    """
    picked = tuple(m for m in modes if m != "reference")
    return picked or modes


def validate(cfg: ProfilerConfig) -> ProfilerConfig:
    """Reject inconsistent or out-of-range values with a clear message; return cfg."""
    if not cfg.modes:
        raise ConfigError("no mode selected")
    positive = {
        "--num-envs": cfg.num_envs,
        "--rollout-steps": cfg.rollout_steps,
        "--updates-per-window": cfg.updates_per_window,
        "--repeats": cfg.repeats,
        "--reference-steps": cfg.reference_steps,
        "--eval-episodes": cfg.eval_episodes,
    }
    for flag, value in positive.items():
        if value is not None and value <= 0:
            raise ConfigError(f"{flag} must be a positive integer, got {value}")
    if cfg.warmup < 0:
        raise ConfigError(f"--warmup must be 0 or more, got {cfg.warmup}")
    for flag, value, hi in (
        ("--repeats", cfg.repeats, MAX_REPEATS),
        ("--warmup", cfg.warmup, MAX_WARMUP),
        ("--reference-steps", cfg.reference_steps, MAX_REFERENCE_STEPS),
    ):
        if value > hi:
            raise ConfigError(f"{flag} must be <= {hi} (got {value})")
    if not (cfg.target_steps_per_sec > 0 and math.isfinite(cfg.target_steps_per_sec)):
        raise ConfigError(
            f"--target-steps-per-sec must be a positive finite number, "
            f"got {cfg.target_steps_per_sec}"
        )
    _check_trainer_sizes(cfg)
    if cfg.ceiling not in CEILING_LEVELS:
        raise ConfigError(f"--ceiling must be one of {', '.join(CEILING_LEVELS)}")
    if cfg.env_variant not in ENV_VARIANTS:
        raise ConfigError(f"--env-variant must be one of {', '.join(ENV_VARIANTS)}")
    if cfg.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {cfg.seed}")
    bad_targets = [m for m in cfg.target_modes if m not in cfg.modes]
    if bad_targets:
        raise ConfigError(f"--target-modes: {bad_targets[0]!r} is not among the selected modes")
    keys = [k for k, _ in cfg.trainer_overrides]
    if len(set(keys)) != len(keys):
        raise ConfigError("--set: the same key is given twice")
    if cfg.trainer_overrides and not TRAINER_MODES & set(cfg.modes):
        raise ConfigError("--set changes the trainer; select trainer or trainer+eval")
    if cfg.vs_peer and "trainer" not in cfg.modes:
        raise ConfigError("--vs-peer times ppo's window against the peer loop; add --mode trainer")
    if cfg.vs_peer and cfg.sweep is not None:
        raise ConfigError("--vs-peer runs at one --num-envs; drop --sweep")
    if cfg.sweep is not None and cfg.modes == ("reference",):
        raise ConfigError("--sweep needs a vectorised mode; the reference env is a single env")
    for path_flag, path in (("--out", cfg.out), ("--plot", cfg.plot)):
        if path is not None:
            _check_writable(path_flag, Path(path))
    if cfg.plot is not None and not cfg.plot.lower().endswith(".png"):
        raise ConfigError(f"--plot must name a .png file, got {cfg.plot!r}")
    if cfg.gate_file is not None and not Path(cfg.gate_file).is_file():
        raise ConfigError(f"--gate-file {cfg.gate_file!r} does not exist")
    return cfg


def _trainer_error(name: str, value: object) -> str | None:
    """The one-line error of TrainConfig field `name` for `value` (its declared bounds)."""
    from ppo.config import TrainConfig, check_field, field_kind

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if name not in fields:
        return f"TrainConfig has no field {name!r}"
    fld = fields[name]
    return check_field(name, field_kind(fld), value, dict(fld.metadata))


def trainer_config_for(cfg: ProfilerConfig, **sizes: int) -> TrainConfig:
    """The ppo TrainConfig a trainer mode runs at `sizes` (before total_steps is set)."""
    from ppo.config import TrainConfig

    kw: dict = {**dict(cfg.trainer_overrides), "num_envs": cfg.num_envs, "seed": cfg.seed}
    if cfg.rollout_steps is not None:
        kw["rollout_steps"] = cfg.rollout_steps
    if cfg.updates_per_window is not None:
        kw["updates_per_window"] = cfg.updates_per_window
    if cfg.eval_episodes is not None:
        kw["eval_episodes"] = cfg.eval_episodes
    kw.update(sizes)
    return TrainConfig(**kw, wandb="disabled")


def _check_trainer_sizes(cfg: ProfilerConfig) -> None:
    """Every trainer size against TrainConfig's declared bounds, each --set value too, and,
    per measured size, the run's memory estimate against this machine."""
    from ppo.config import ConfigError as TrainConfigError
    from ppo.config import validate_static

    for name in ("num_envs", "rollout_steps", "updates_per_window", "eval_episodes", "seed"):
        value = getattr(cfg, name)
        if value is not None and (msg := _trainer_error(name, value)):
            raise ConfigError(msg)
    for key, value in cfg.trainer_overrides:
        if msg := _trainer_error(key, value):
            raise ConfigError(f"--set {key}: {msg}")
    if cfg.sweep is not None:
        for v in cfg.sweep.values:
            if msg := _trainer_error(cfg.sweep.key, v):
                raise ConfigError(f"--sweep: {msg}")
    points = [{}] if cfg.sweep is None else [{cfg.sweep.key: v} for v in cfg.sweep.values]
    for point in points:
        tc = trainer_config_for(cfg, **point)
        if not TRAINER_MODES & set(cfg.modes):
            # env-only still holds num_envs env states: the trainer's estimate bounds it
            tc = dataclasses.replace(tc, rollout_steps=1, minibatches=1, eval_episodes=0)
        # A profiled run is a few windows (the modes set total_steps); one window here, so the
        # trainer's window-count bound does not judge its default total_steps.
        tc = dataclasses.replace(
            tc, total_steps=tc.num_envs * tc.rollout_steps * tc.updates_per_window
        )
        try:
            validate_static(tc)
        except TrainConfigError as e:
            size = ", ".join(f"{k}={v}" for k, v in point.items())
            raise ConfigError(f"{size}: {e}" if size else str(e)) from None


def _check_writable(flag: str, path: Path) -> None:
    if path.exists() and path.is_dir():
        raise ConfigError(f"{flag} {str(path)!r} is a directory; give a file path")
    # The report is written atomically (a temp file renamed over the path): a device or a
    # FIFO would be replaced by a regular file (`--out /dev/full` replaced /dev/full).
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {str(path)!r} is not a regular file; give a file path")
    parent = path.parent if str(path.parent) else Path(".")
    # Walk up to the first existing ancestor: missing folders are created later.
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag} {str(path)!r}: {str(probe)!r} is not a directory")
