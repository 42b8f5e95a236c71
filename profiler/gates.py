"""Targets and gates: which checks a report passes, and the one-line reason when it does not.

Without a gate file the checks are the project's targets: every target mode's median steps/s
reaches `--target-steps-per-sec`, env-only runs at least 300x the reference env, eval and
checkpointing take at most 10 % of a trainer+eval window, and one window compiles in under
60 s. A gate file (`artifacts/throughput/gates.json`) replaces those numbers with calibrated
floors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from profiler.config import MODES, ConfigError, ProfilerConfig

DEFAULT_MIN_ENV_OVER_REFERENCE = 300.0
DEFAULT_MAX_EVAL_DROP = 0.10
DEFAULT_MAX_COMPILE_S = 60.0
_GATE_KEYS = {
    "schema_version",
    "note",
    "calibrated_from",
    "calibrated_at",
    "config",
    "floors",
    "cpu_floors",
    "min_env_only_over_reference",
    "max_eval_checkpoint_share",
    "max_compile_s",
    "load",
}


@dataclass(frozen=True)
class Gates:
    """Thresholds to check; `floors` maps mode -> minimum median steps/s."""

    floors: dict[str, float]
    cpu_floors: dict[str, float] = field(default_factory=dict)
    min_env_only_over_reference: float = DEFAULT_MIN_ENV_OVER_REFERENCE
    max_eval_checkpoint_share: float = DEFAULT_MAX_EVAL_DROP
    max_compile_s: float = DEFAULT_MAX_COMPILE_S
    config: dict = field(default_factory=dict)
    source: str = "targets"


def from_config(cfg: ProfilerConfig) -> Gates:
    """The issue's targets: `--target-steps-per-sec` on every target mode."""
    return Gates(floors={m: cfg.target_steps_per_sec for m in cfg.target_modes})


def load(path: str) -> Gates:
    """Read a gate file, rejecting unknown keys, modes and non-positive numbers."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--gate-file {path!r}: cannot read JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("floors"), dict):
        raise ConfigError(f"--gate-file {path!r}: expected an object with a 'floors' object")
    unknown = set(raw) - _GATE_KEYS
    if unknown:
        raise ConfigError(f"--gate-file {path!r}: unknown key {sorted(unknown)[0]!r}")
    floors: dict[str, float] = {}
    for mode, value in raw["floors"].items():
        if mode not in MODES:
            raise ConfigError(f"--gate-file {path!r}: unknown mode {mode!r} in floors")
        floors[mode] = _positive(path, f"floors.{mode}", value)
    cpu_floors: dict[str, float] = {}
    for mode, value in (raw.get("cpu_floors") or {}).items():
        if mode not in MODES:
            raise ConfigError(f"--gate-file {path!r}: unknown mode {mode!r} in cpu_floors")
        cpu_floors[mode] = _positive(path, f"cpu_floors.{mode}", value)
    return Gates(
        floors=floors,
        cpu_floors=cpu_floors,
        min_env_only_over_reference=_positive(
            path,
            "min_env_only_over_reference",
            raw.get("min_env_only_over_reference", DEFAULT_MIN_ENV_OVER_REFERENCE),
        ),
        max_eval_checkpoint_share=_positive(
            path,
            "max_eval_checkpoint_share",
            raw.get("max_eval_checkpoint_share", DEFAULT_MAX_EVAL_DROP),
        ),
        max_compile_s=_positive(
            path, "max_compile_s", raw.get("max_compile_s", DEFAULT_MAX_COMPILE_S)
        ),
        config=dict(raw.get("config") or {}),
        source=str(path),
    )


def _positive(path: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"--gate-file {path!r}: {name} must be a positive number, got {value!r}")
    return float(value)


def check_config_matches(gates: Gates, resolved: dict) -> None:
    """A gate calibrated at one config must not silently judge another."""
    for key, want in gates.config.items():
        have = resolved.get(key)
        if have is not None and have != want:
            raise ConfigError(
                f"gate file {gates.source!r} was calibrated at {key}={want}; this run uses "
                f"{key}={have} (pass --{key.replace('_', '-')} {want} or recalibrate)"
            )


def primary_runs(runs: list[dict], num_envs: int) -> dict[str, dict]:
    """Per mode, the run the checks judge: the one at `num_envs`, else the fastest (sweeps)."""
    picked: dict[str, dict] = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        if not mine:
            continue
        at_config = [r for r in mine if r["num_envs"] == num_envs or mode == "reference"]
        pool = at_config or mine
        picked[mode] = max(pool, key=lambda r: r["steps_per_sec"]["p50"])
    return picked


def derived(primary: dict[str, dict]) -> dict:
    """Ratios between modes measured in the same run."""
    p50 = {m: r["steps_per_sec"]["p50"] for m, r in primary.items()}
    over_ref = None
    if "env-only" in p50 and "reference" in p50:
        over_ref = p50["env-only"] / p50["reference"]
    drop = None
    if "trainer" in p50 and "trainer+eval" in p50:
        drop = 1.0 - p50["trainer+eval"] / p50["trainer"]
    share = None
    if "trainer+eval" in primary:
        phases = primary["trainer+eval"]["details"].get("phase_seconds_p50") or {}
        if phases.get("cycle"):
            share = (phases.get("eval", 0.0) + phases.get("checkpoint", 0.0)) / phases["cycle"]
    return {
        "env_only_over_reference": over_ref,
        "trainer_eval_drop": drop,
        "eval_checkpoint_share": share,
    }


def evaluate(gates: Gates, primary: dict[str, dict], ratios: dict) -> list[dict]:
    """Every applicable check, passed or not, in a stable order."""
    checks: list[dict] = []
    for mode in MODES:
        if mode in gates.floors and mode in primary:
            value = primary[mode]["steps_per_sec"]["p50"]
            checks.append(_check(f"{mode} p50 steps/s", mode, value, ">=", gates.floors[mode]))
    # Steps per CPU-second move far less with other people's load than steps/s do, so a
    # calibrated CPU floor catches an efficiency regression even on a busy machine.
    for mode in MODES:
        cpu = (primary.get(mode) or {}).get("cpu", {}).get("steps_per_cpu_s")
        if mode in gates.cpu_floors and cpu is not None:
            checks.append(_check(f"{mode} steps/cpu-s", mode, cpu, ">=", gates.cpu_floors[mode]))
    if ratios["env_only_over_reference"] is not None:
        checks.append(
            _check(
                "env-only / reference",
                "env-only",
                ratios["env_only_over_reference"],
                ">=",
                gates.min_env_only_over_reference,
            )
        )
    # The eval budget is judged inside the trainer+eval run (eval + checkpoint seconds over
    # the window cycle): comparing two runs minutes apart on a shared machine is mostly noise.
    if ratios.get("eval_checkpoint_share") is not None:
        checks.append(
            _check(
                "trainer+eval eval+checkpoint share",
                "trainer+eval",
                ratios["eval_checkpoint_share"],
                "<=",
                gates.max_eval_checkpoint_share,
            )
        )
    for mode in MODES:
        run = primary.get(mode)
        if run is not None and run["compile_s"] is not None:
            checks.append(
                _check(f"{mode} compile s", mode, run["compile_s"], "<=", gates.max_compile_s)
            )
    return checks


def _check(name: str, mode: str, value: float, op: str, threshold: float) -> dict:
    passed = value >= threshold if op == ">=" else value <= threshold
    return {
        "name": name,
        "mode": mode,
        "value": value,
        "op": op,
        "threshold": threshold,
        "passed": bool(passed),
    }


def failure_line(checks: list[dict]) -> str | None:
    """One line naming every failed check, or None when all passed."""
    failed = [c for c in checks if not c["passed"]]
    if not failed:
        return None
    parts = [
        f"{c['name']} {_fmt(c['value'])} (need {c['op']} {_fmt(c['threshold'])})" for c in failed
    ]
    return "target missed: " + "; ".join(parts)


def _fmt(x: float) -> str:
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"
