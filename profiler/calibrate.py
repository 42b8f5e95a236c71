"""`python -m profiler.calibrate REPORT.json ... --out gates.json`: floors from measurements.

Each mode's floor is `margin` x the lowest timed sample of that mode at the calibrated
config across the given reports, and its CPU floor `margin` x the lowest steps per
CPU-second; the env-only / reference floor is `margin` x the lowest
ratio of medians measured in one run. The eval-share and compile limits stay at the
project's targets unless a measurement already breaks them (then the measured worst,
divided by `margin`, so the gate records where things stand instead of always failing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from profiler.gates import DEFAULT_MAX_COMPILE_S, DEFAULT_MAX_EVAL_DROP, primary_runs
from profiler.report import write_json
from profiler.system import utc_timestamp

CALIBRATED_MODES = ("env-only", "trainer", "trainer+eval")


def calibrate(reports: list[dict], names: list[str], margin: float) -> dict:
    """The gate document for `reports`, all at the first report's resolved config."""
    resolved = reports[0]["config"]["resolved"]
    config = {k: resolved[k] for k in ("num_envs", "rollout_steps", "updates_per_window")}
    samples: dict[str, list[float]] = {m: [] for m in CALIBRATED_MODES}
    cpu_rates: dict[str, list[float]] = {m: [] for m in CALIBRATED_MODES}
    ratios, shares, compiles, loads = [], [], [], []
    for rep in reports:
        got = {k: rep["config"]["resolved"][k] for k in config}
        if got != config or rep["config"].get("trainer_overrides"):
            raise ValueError(f"report {rep['timestamp']} is at {got}, not {config}")
        primary = primary_runs(rep["runs"], config["num_envs"])
        for mode in CALIBRATED_MODES:
            if mode in primary:
                samples[mode].extend(primary[mode]["steps_per_sec"]["samples"])
                if primary[mode]["cpu"].get("steps_per_cpu_s"):
                    cpu_rates[mode].append(primary[mode]["cpu"]["steps_per_cpu_s"])
                compiles.append(primary[mode]["compile_s"])
        if rep["derived"].get("env_only_over_reference"):
            ratios.append(rep["derived"]["env_only_over_reference"])
        if rep["derived"].get("eval_checkpoint_share") is not None:
            shares.append(rep["derived"]["eval_checkpoint_share"])
        loads.append(rep["system"].get("load_average_start"))
    missing = [m for m, v in samples.items() if not v]
    if missing:
        raise ValueError(f"no measurement of {', '.join(missing)} in the given reports")
    out = {
        "schema_version": 1,
        "note": (
            f"floors = {margin} x the lowest timed sample per mode; recalibrate with "
            "python -m profiler.calibrate (docs/THROUGHPUT.md, Gates)"
        ),
        "calibrated_at": utc_timestamp(),
        "calibrated_from": names,
        "load": loads,
        "config": config,
        "floors": {m: round(margin * min(v), 1) for m, v in samples.items()},
        "cpu_floors": {m: round(margin * min(v), 1) for m, v in cpu_rates.items() if v},
        "max_compile_s": max(DEFAULT_MAX_COMPILE_S, round(max(compiles) / margin, 1)),
        "max_eval_checkpoint_share": max(
            DEFAULT_MAX_EVAL_DROP, round(max(shares, default=0.0) / margin, 3)
        ),
    }
    if ratios:
        out["min_env_only_over_reference"] = round(margin * min(ratios), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 written, 2 bad input."""
    p = argparse.ArgumentParser(prog="python -m profiler.calibrate", description=__doc__)
    p.add_argument("reports", nargs="+", help="profiler reports at one config")
    p.add_argument("--out", required=True, help="gate file to write")
    p.add_argument("--margin", type=float, default=0.8, help="floor factor (default 0.8)")
    args = p.parse_args(argv)
    if not 0 < args.margin <= 1:
        print("python -m profiler.calibrate: error: --margin must be in (0, 1]", file=sys.stderr)
        return 2
    try:
        reports = [json.loads(Path(r).read_text()) for r in args.reports]
        gates = calibrate(reports, list(args.reports), args.margin)
    except (OSError, json.JSONDecodeError, KeyError, ValueError) as exc:
        print(f"python -m profiler.calibrate: error: {exc}", file=sys.stderr)
        return 2
    write_json(args.out, gates)
    print(json.dumps(gates, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
