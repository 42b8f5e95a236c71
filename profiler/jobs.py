"""Jobs of one profiler run: what to measure, and measuring each in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from profiler import report as report_mod
from profiler.config import (
    FALLBACK_ROLLOUT_STEPS,
    FALLBACK_UPDATES_PER_WINDOW,
    ProfilerConfig,
)
from profiler.system import REPO_ROOT


def resolve_sizes(cfg: ProfilerConfig) -> dict:
    """Fill unset window sizes from the trainer's defaults (or the profiler's fallbacks)."""
    source = "ppo.config.TrainConfig"
    try:
        from ppo.config import TrainConfig

        defaults = TrainConfig()
        rollout, updates = defaults.rollout_steps, defaults.updates_per_window
    except ImportError:
        source = "profiler fallback (ppo not importable)"
        rollout, updates = FALLBACK_ROLLOUT_STEPS, FALLBACK_UPDATES_PER_WINDOW
    # The rest of TrainConfig's defaults are read in each trainer worker; `trainer_base`
    # below pins them once per profiler run so both trainer modes share one config.
    return {
        "num_envs": cfg.num_envs,
        "rollout_steps": cfg.rollout_steps or rollout,
        "updates_per_window": cfg.updates_per_window or updates,
        "defaults_source": source,
    }


def trainer_defaults() -> dict | None:
    """ppo's TrainConfig defaults, read once so every trainer worker of a run uses the same."""
    try:
        from ppo.config import TrainConfig
    except ImportError:
        return None
    return TrainConfig().to_json()


def job_specs(cfg: ProfilerConfig, sizes: dict, run_dir: str) -> list[dict]:
    """One spec per measured (mode, size); the reference env runs once even in a sweep."""
    base = {
        "job": "mode",
        "num_envs": sizes["num_envs"],
        "rollout_steps": sizes["rollout_steps"],
        "updates_per_window": sizes["updates_per_window"],
        "repeats": cfg.repeats,
        "warmup": cfg.warmup,
        "reference_steps": cfg.reference_steps,
        "eval_episodes": cfg.eval_episodes,
        "seed": cfg.seed,
        "run_dir": run_dir,
        "trainer_overrides": dict(cfg.trainer_overrides),
        "trainer_base": trainer_defaults(),
        "env_variant": cfg.env_variant,
    }
    points = [{}] if cfg.sweep is None else [{cfg.sweep.key: v} for v in cfg.sweep.values]
    specs: list[dict] = []
    for mode in cfg.modes:
        if mode == "reference":
            specs.append({**base, "num_envs": 1, "mode": mode})
            continue
        specs.extend({**base, **point, "mode": mode} for point in points)
    return specs


def run_worker(spec: dict, xla_flags: str | None) -> dict:
    """Run one job in a fresh Python process; return its payload."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    if xla_flags:
        env["XLA_FLAGS"] = " ".join(p for p in (env.get("XLA_FLAGS"), xla_flags) if p)
    with tempfile.TemporaryDirectory(prefix="profiler-") as tmp:
        out = Path(tmp) / "result.json"
        proc = subprocess.run(
            [sys.executable, "-m", "profiler.worker", json.dumps(spec), str(out)],
            env=env,
            stdout=sys.stderr,  # the trainer's progress lines; stdout keeps only the table
            check=False,
        )
        if not out.exists():
            return {
                "ok": False,
                "kind": "crash",
                "error": f"worker exited with status {proc.returncode} and no result",
            }
        return json.loads(out.read_text())


def measure_all(
    cfg: ProfilerConfig, sizes: dict, say: Callable[[str], None]
) -> tuple[dict | None, dict | None, list[dict], list[dict], dict | None]:
    """Measure the ceiling and every job.

    Returns (ceiling, jax system info, runs, errors, peer comparison or None).
    """
    with tempfile.TemporaryDirectory(prefix="profiler-runs-") as scratch:
        run_dir = cfg.run_dir or scratch
        specs = job_specs(cfg, sizes, run_dir)
        ceiling, jax_sys, errors = None, None, []
        if cfg.ceiling != "off":
            say("measuring the device ceiling")
            payload = run_worker(
                {"job": "ceiling", "level": cfg.ceiling, "repeats": cfg.repeats}, cfg.xla_flags
            )
            if payload["ok"]:
                ceiling, jax_sys = payload["result"], payload["system"]
            else:
                errors.append({"job": "ceiling", **error_fields(payload)})
        runs = []
        for i, spec in enumerate(specs, 1):
            say(f"[{i}/{len(specs)}] {describe(spec)}")
            payload = run_worker(spec, cfg.xla_flags)
            if payload["ok"]:
                run = payload["result"]
                report_mod.attach_ceiling_fractions(run, ceiling)
                runs.append(run)
                jax_sys = jax_sys or payload["system"]
                say(f"{spec['mode']}: p50 {run['steps_per_sec']['p50']:,.0f} steps/s")
            else:
                errors.append(
                    {"job": spec["mode"], "num_envs": spec["num_envs"], **error_fields(payload)}
                )
                say(f"{spec['mode']} failed: {payload['error']}")
        peer = None
        if cfg.vs_peer:
            trainer = next(s for s in specs if s["mode"] == "trainer")
            spec = {**trainer, "job": "vs-peer"}
            say(f"vs-peer: ppo window and peer loop alternated {cfg.repeats}x each")
            payload = run_worker(spec, cfg.xla_flags)
            if payload["ok"]:
                peer = payload["result"]
                say(f"vs-peer: ppo / peer = {peer['ratio']:.2f}x (medians, one process)")
            else:
                errors.append({"job": "vs-peer", **error_fields(payload)})

    return ceiling, jax_sys, runs, errors, peer


def describe(spec: dict) -> str:
    """One progress line naming a job."""
    if spec["mode"] == "reference":
        return f"reference: 1 env, {spec['reference_steps']} steps per call"
    return (
        f"{spec['mode']}: num_envs={spec['num_envs']} rollout_steps={spec['rollout_steps']} "
        f"updates_per_window={spec['updates_per_window']}"
    )


def error_fields(payload: dict) -> dict:
    """The report's error fields from a failed worker payload."""
    return {"kind": payload.get("kind", "crash"), "error": payload.get("error", "unknown")}
