"""Training configuration: one frozen dataclass, its command line, and its checks.

Every size the trainer needs is derived once here (`TrainConfig.derived`), and every
inconsistency is rejected with a clear message before anything is compiled.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from ppo import distributed
from ppo.records import RUN_ID_RE

WANDB_MODES = ("online", "offline", "disabled")
EVAL_POLICIES = ("sampled", "greedy")


class ConfigError(ValueError):
    """A configuration that cannot run, with a message that says why and what to change."""


@dataclass(frozen=True)
class Derived:
    """Sizes computed once from a config."""

    num_devices: int
    envs_per_device: int
    batch_size: int  # env steps per update (all devices)
    minibatch_size: int  # samples per minibatch (all devices)
    steps_per_window: int
    num_windows: int
    total_updates: int


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; stored verbatim in run.json."""

    num_envs: int = 1024
    rollout_steps: int = 64
    updates_per_window: int = 8
    # 12 windows at 8,192 envs: past the slowest of 3 seeds' steps to the learning target
    # (41.9 M at --num-envs 8192, docs/TRAINING.md "Which config learns fastest").
    total_steps: int = 50_331_648
    epochs: int = 2
    # 32 (not 16): same FLOPs per env step, twice the Adam steps; 1.7x fewer env steps to
    # the target at 8,192 envs over 3 seeds (docs/TRAINING.md).
    minibatches: int = 32
    lr: float = 1e-3
    anneal_lr: bool = False
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_scale: float = 0.1
    # 64 (not 128): 1.3x more env steps to the target but 1.53x more env steps per CPU-second,
    # so the target comes 1.2x sooner in wall-clock (docs/TRAINING.md).
    hidden: int = 64
    layers: int = 2
    seed: int = 0
    action_masking: bool = True
    num_seeds: int = 1
    eval_episodes: int = 128
    eval_policy: str = "sampled"
    eval_seed_base: int = 1_000_000
    keep_checkpoints: int = 3
    run_dir: str = "runs"
    run_id: str | None = None
    name: str | None = None
    wandb: str = "offline"
    wandb_project: str = "caravan"
    wandb_entity: str | None = None
    resume: str | None = None
    num_devices: int = 0  # 0: every device jax sees
    max_wall_s: float = 0.0  # 0: no wall-clock limit

    def to_json(self) -> dict[str, Any]:
        """The config as a JSON-able dict (run.json, W&B config)."""
        return dataclasses.asdict(self)

    def derived(self, device_count: int) -> Derived:
        """Derived sizes for `device_count` devices; raises ConfigError when inconsistent."""
        validate(self, device_count)
        nd = self.num_devices or device_count
        batch = self.num_envs * self.rollout_steps
        spw = batch * self.updates_per_window
        num_windows = max(1, math.ceil(self.total_steps / spw))
        return Derived(
            num_devices=nd,
            envs_per_device=self.num_envs // nd,
            batch_size=batch,
            minibatch_size=batch // self.minibatches,
            steps_per_window=spw,
            num_windows=num_windows,
            total_updates=num_windows * self.updates_per_window,
        )


@dataclass(frozen=True)
class RunOptions:
    """How this process runs a launch, beyond what the run is (not stored in run.json)."""

    checkpoint_every: int = 1  # checkpoint every N-th window (0: never; final window always)
    # multi-process settings (frozen, so one shared default is safe)
    launch: distributed.DistConfig = dataclasses.field(default_factory=distributed.DistConfig)


def validate(cfg: TrainConfig, device_count: int) -> None:
    """Reject inconsistent values with one message listing every problem."""
    errs: list[str] = []
    positive = (
        "num_envs",
        "rollout_steps",
        "updates_per_window",
        "total_steps",
        "epochs",
        "minibatches",
        "hidden",
        "layers",
        "num_seeds",
        "keep_checkpoints",
    )
    for name in positive:
        if getattr(cfg, name) < 1:
            errs.append(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(cfg, name)})")
    if cfg.eval_episodes < 0:
        errs.append(f"--eval-episodes must be >= 0 (got {cfg.eval_episodes})")
    if not cfg.lr > 0 or not math.isfinite(cfg.lr):
        errs.append(f"--lr must be a positive finite number (got {cfg.lr})")
    for name in ("gamma", "gae_lambda"):
        v = getattr(cfg, name)
        if not 0.0 <= v <= 1.0:
            errs.append(f"--{name.replace('_', '-')} must be in [0, 1] (got {v})")
    if not cfg.clip > 0:
        errs.append(f"--clip must be > 0 (got {cfg.clip})")
    if not cfg.reward_scale > 0:
        errs.append(f"--reward-scale must be > 0 (got {cfg.reward_scale})")
    for name in ("ent_coef", "vf_coef", "max_grad_norm"):
        if getattr(cfg, name) < 0:
            errs.append(f"--{name.replace('_', '-')} must be >= 0 (got {getattr(cfg, name)})")
    if cfg.eval_policy not in EVAL_POLICIES:
        errs.append(f"--eval-policy must be one of {', '.join(EVAL_POLICIES)}")
    if cfg.wandb not in WANDB_MODES:
        errs.append(f"--wandb must be one of {', '.join(WANDB_MODES)} (got {cfg.wandb!r})")
    for name in ("run_id", "resume"):
        v = getattr(cfg, name)
        if v is not None and not RUN_ID_RE.match(v):
            errs.append(f"--{name.replace('_', '-')} {v!r} must match {RUN_ID_RE.pattern}")
    if cfg.max_wall_s < 0:
        errs.append(f"--max-wall-s must be >= 0 (got {cfg.max_wall_s})")
    if cfg.num_devices < 0:
        errs.append(f"--num-devices must be >= 0 (got {cfg.num_devices})")
    elif cfg.num_devices > device_count:
        errs.append(f"--num-devices {cfg.num_devices} > the {device_count} devices jax sees")
    nd = cfg.num_devices or device_count
    if cfg.num_envs >= 1 and nd >= 1 and cfg.num_envs % nd:
        errs.append(
            f"--num-envs {cfg.num_envs} must be divisible by the device count {nd} "
            f"(envs are sharded evenly across devices)"
        )
    batch = cfg.num_envs * cfg.rollout_steps
    if cfg.minibatches >= 1 and batch >= 1 and (batch // max(nd, 1)) % cfg.minibatches:
        errs.append(
            f"the per-device batch --num-envs/devices x --rollout-steps = "
            f"{batch // max(nd, 1)} must be divisible by --minibatches {cfg.minibatches}"
        )
    if errs:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errs))


def default_wandb_mode() -> str:
    """`online` when WANDB_API_KEY is set, else `offline`."""
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None ones (their help says what happens instead)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The `python -m ppo.train` command line; defaults are TrainConfig's (a short run)."""
    d = TrainConfig()
    p = argparse.ArgumentParser(
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
    a = p.add_argument
    a("--num-envs", type=int, default=d.num_envs, help="parallel environments (all devices)")
    a("--rollout-steps", type=int, default=d.rollout_steps, help="env steps per env per update")
    a("--updates-per-window", type=int, default=d.updates_per_window, help="updates per window")
    a(
        "--total-steps",
        type=int,
        default=d.total_steps,
        help="env steps to train (rounded up to whole windows)",
    )
    a("--epochs", type=int, default=d.epochs, help="PPO epochs per update")
    a("--minibatches", type=int, default=d.minibatches, help="minibatches per epoch")
    a("--lr", type=float, default=d.lr, help="Adam learning rate")
    a(
        "--anneal-lr",
        action=argparse.BooleanOptionalAction,
        default=d.anneal_lr,
        help="anneal the learning rate linearly to 0 over the run",
    )
    a("--gamma", type=float, default=d.gamma, help="discount")
    a("--gae-lambda", type=float, default=d.gae_lambda, help="GAE lambda")
    a("--clip", type=float, default=d.clip, help="PPO clip range")
    a("--ent-coef", type=float, default=d.ent_coef, help="entropy bonus coefficient")
    a("--vf-coef", type=float, default=d.vf_coef, help="value loss coefficient")
    a("--max-grad-norm", type=float, default=d.max_grad_norm, help="global gradient clip")
    a(
        "--reward-scale",
        type=float,
        default=d.reward_scale,
        help="rewards are multiplied by this for the value targets (metrics stay unscaled)",
    )
    a("--hidden", type=int, default=d.hidden, help="width of the shared MLP trunk")
    a("--layers", type=int, default=d.layers, help="hidden layers in the shared trunk")
    a("--seed", type=int, default=d.seed, help="training seed")
    a(
        "--action-masking",
        action=argparse.BooleanOptionalAction,
        default=d.action_masking,
        help="mask invalid actions' logits (off: the agent learns validity from the reward)",
    )
    a(
        "--num-seeds",
        type=int,
        default=d.num_seeds,
        help="independent agents trained in one compiled program (vmap), each its own run",
    )
    a(
        "--eval-episodes",
        type=int,
        default=d.eval_episodes,
        help="episodes per evaluation on fixed seeds (0: no eval)",
    )
    a(
        "--eval-policy",
        choices=EVAL_POLICIES,
        default=d.eval_policy,
        help="policy whose eval statistics are the eval/* metrics (both are recorded)",
    )
    a(
        "--keep-checkpoints",
        type=int,
        default=d.keep_checkpoints,
        help="last N checkpoints kept (the best by eval return is kept too)",
    )
    a("--run-dir", default=d.run_dir, help="directory holding runs/<run_id>/")
    a("--run-id", default=None, help="run id (default: generated)")
    a("--name", default=None, help="human-readable run name")
    a(
        "--wandb",
        choices=WANDB_MODES,
        default=None,
        help="W&B mode (default: online when WANDB_API_KEY is set, else offline)",
    )
    a("--wandb-project", default=d.wandb_project, help="W&B project")
    a("--wandb-entity", default=None, help="W&B entity (default: the key's)")
    a(
        "--resume",
        metavar="RUN_ID",
        default=None,
        help="continue RUN_ID from its last complete checkpoint (its config is used)",
    )
    a(
        "--max-wall-s",
        type=float,
        default=d.max_wall_s,
        help="stop (finished) after the first window ending past this many seconds (0: off)",
    )
    a(
        "--num-devices",
        type=int,
        default=d.num_devices,
        help="devices to shard envs over (0: all jax.devices() of all processes)",
    )
    a(
        "--checkpoint-every",
        type=int,
        default=RunOptions.checkpoint_every,
        metavar="N",
        help="checkpoint every N-th window (0: never); the run's final window is always "
        "checkpointed when N > 0",
    )
    distributed.add_arguments(p)  # RunOptions.launch
    return p


def parse_command(argv: list[str] | None = None) -> tuple[TrainConfig, RunOptions]:
    """Parse the command line into a TrainConfig (not yet validated against devices) and
    the process's RunOptions; ConfigError for a bad run option."""
    kw = vars(build_parser().parse_args(argv))
    launch = distributed.pop_config(kw)
    opts = RunOptions(
        launch=launch,
        **{f.name: kw.pop(f.name) for f in dataclasses.fields(RunOptions) if f.name != "launch"},
    )
    if opts.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be >= 0 (got {opts.checkpoint_every})")
    if kw["wandb"] is None:
        kw["wandb"] = default_wandb_mode()
    return TrainConfig(**kw), opts


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse the command line into a TrainConfig (not yet validated against devices)."""
    return parse_command(argv)[0]
