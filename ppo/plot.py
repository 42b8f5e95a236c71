"""Learning curves from run records: `python -m ppo.plot RUN_DIR [RUN_DIR ...] --out X.png`.

Reads windows.jsonl only (no W&B needed); x axis is wall-clock minutes since the run began.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ppo.records import read_run, read_windows

PANELS = (
    ("eval/profit_mean", "eval mean profit (coins)", 1.0),
    ("eval/survival_rate", "eval survival (%)", 100.0),
    ("train/return_mean", "train mean episode return", 1.0),
    ("eval/invalid_action_rate", "eval invalid-action rate (%)", 100.0),
)


def plot_runs(
    run_dirs: list[Path],
    out: Path,
    heuristic_profit: float | None = None,
    title: str | None = None,
    mark_minutes: float | None = None,
) -> Path:
    """Write a 2x2 PNG of the runs' window metrics against wall-clock minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
    for d in run_dirs:
        meta = read_run(d)
        rows = read_windows(d)
        label = (
            f"{meta['name']} ({'masking' if meta['config']['action_masking'] else 'no masking'})"
        )
        minutes = [r["wall_time_s"] / 60.0 for r in rows]
        for ax, (key, name, scale) in zip(axes.flat, PANELS, strict=True):
            pts = [
                (m, r[key] * scale)
                for m, r in zip(minutes, rows, strict=True)
                if r[key] is not None
            ]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=label, lw=1.5)
            ax.set_title(name)
            ax.set_xlabel("wall-clock minutes")
            ax.grid(alpha=0.3)
    if heuristic_profit is not None:
        axes.flat[0].axhline(
            heuristic_profit,
            color="k",
            ls="--",
            lw=1,
            label=f"heuristic trader ({heuristic_profit:,.0f})",
        )
    if mark_minutes is not None:
        for ax in axes.flat:
            ax.axvline(mark_minutes, color="grey", ls="-.", lw=1)
    axes.flat[1].axhline(95.0, color="k", ls=":", lw=1, label="95 % target")
    for ax in axes.flat[:2]:
        ax.legend(fontsize=8, loc="lower right")
    axes.flat[3].legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ppo.plot", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run directories (runs/<run_id>)")
    p.add_argument("--out", type=Path, required=True, help="PNG path")
    p.add_argument(
        "--heuristic-profit",
        type=float,
        default=None,
        help="draw the heuristic trader's mean profit (docs/ENV_SPEC.md)",
    )
    p.add_argument("--title", default=None)
    p.add_argument(
        "--mark-minutes",
        type=float,
        default=None,
        help="draw a vertical line at this many wall-clock minutes",
    )
    a = p.parse_args(argv)
    try:
        plot_runs(a.runs, a.out, a.heuristic_profit, a.title, a.mark_minutes)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
