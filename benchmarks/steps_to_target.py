"""Env steps until a run first reaches the learning target, from its records.

    python -m benchmarks.steps_to_target runs/<id> [runs/<id> ...] [--out steps.json]
        [--png curves.png] [--profit 57761] [--survival 0.95]

Target (issue 10): eval mean profit >= the heuristic trader's (docs/ENV_SPEC.md: 57,761
coins) with eval survival >= 95 %. Reads windows.jsonl only; steps-to-target does not depend
on the machine's speed or load, so time-to-target = steps / (the config's steps/s measured
by the profiler).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ppo.config import TrainConfig
from ppo.records import read_run, read_windows
from profiler.report import write_json

HEURISTIC_PROFIT = 57_761.0


def first_hit(rows: list[dict], profit: float, survival: float) -> dict | None:
    """The first window row meeting both conditions, or None."""
    for r in rows:
        p, s = r.get("eval/profit_mean"), r.get("eval/survival_rate")
        if p is not None and s is not None and p >= profit and s >= survival:
            return r
    return None


# The fields that tell configs apart in the summary; runs that differ only in seed group.
CONFIG_KEYS = ("hidden", "epochs", "minibatches", "minibatch_chunk", "lr", "rollout_steps")
DEFAULTS = TrainConfig()


def summarize(run_dirs: list[Path], profit: float, survival: float) -> list[dict]:
    """One entry per run: config label, steps and wall seconds at the first hit, last eval."""
    out = []
    for d in run_dirs:
        meta, rows = read_run(d), read_windows(d)
        cfg = meta["config"]
        hit = first_hit(rows, profit, survival)
        last = rows[-1] if rows else {}
        out.append(
            {
                "run": d.name,
                # a field newer than the run: its default, as a resumed run would take
                **{k: cfg.get(k, getattr(DEFAULTS, k)) for k in CONFIG_KEYS},
                "num_envs": cfg["num_envs"],
                "steps_to_target": None if hit is None else hit["env_steps"],
                "wall_s_to_target": None if hit is None else hit.get("wall_time_s"),
                "steps_run": last.get("env_steps"),
                "last_profit": last.get("eval/profit_mean"),
                "last_survival": last.get("eval/survival_rate"),
            }
        )
    return out


def plot(run_dirs: list[Path], png: Path, profit: float) -> None:
    """Eval profit and survival against env steps, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for d in run_dirs:
        rows = read_windows(d)
        x = [r["env_steps"] / 1e6 for r in rows]
        a.plot(x, [r.get("eval/profit_mean") for r in rows], label=d.name)
        b.plot(x, [100 * (r.get("eval/survival_rate") or 0) for r in rows], label=d.name)
    a.axhline(profit, color="k", ls="--", lw=0.8, label="heuristic trader")
    b.axhline(95, color="k", ls="--", lw=0.8)
    a.set(xlabel="env steps (M)", ylabel="eval mean profit (coins)")
    b.set(xlabel="env steps (M)", ylabel="eval survival (%)")
    a.legend(fontsize=7)
    fig.savefig(png, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.steps_to_target", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--profit", type=float, default=HEURISTIC_PROFIT)
    p.add_argument("--survival", type=float, default=0.95)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--png", type=Path, default=None)
    a = p.parse_args(argv)
    rows = summarize(a.runs, a.profit, a.survival)
    by_cfg: dict[str, list] = {}
    for r in rows:
        print(json.dumps(r))
        label = " ".join(f"{k} {r[k]}" for k in CONFIG_KEYS if r[k] is not None)
        by_cfg.setdefault(label, []).append(r["steps_to_target"])
    for label, steps in by_cfg.items():
        hit = [s for s in steps if s is not None]
        med = statistics.median(hit) if len(hit) == len(steps) else None
        print(f"{label}: steps to target {steps} (median {med})")
    if a.out:
        write_json(a.out, rows)
    if a.png:
        plot(a.runs, a.png, a.profit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
