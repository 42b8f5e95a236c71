"""The `--sweep` PNG: median steps/s against the swept size, one line per mode."""

from __future__ import annotations

from pathlib import Path


def sweep_png(report: dict, path: str | Path) -> None:
    """Plot p50 steps/s (with min..p95 bars) per mode against the swept key; write a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    sweep = report["sweep"]
    key = sweep["key"]
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    for mode in dict.fromkeys(r["mode"] for r in report["runs"]):
        runs = [r for r in report["runs"] if r["mode"] == mode]
        if mode == "reference":
            ax.axhline(
                runs[0]["steps_per_sec"]["p50"],
                color="grey",
                ls=":",
                label="reference (1 Python env)",
            )
            continue
        runs.sort(key=lambda r: r[key])
        xs = [r[key] for r in runs]
        p50 = [r["steps_per_sec"]["p50"] for r in runs]
        lo = [r["steps_per_sec"]["p50"] - r["steps_per_sec"]["min"] for r in runs]
        hi = [r["steps_per_sec"]["p95"] - r["steps_per_sec"]["p50"] for r in runs]
        ax.errorbar(xs, p50, yerr=[lo, hi], marker="o", capsize=3, label=mode)
    target = report["target"]["steps_per_sec"]
    ax.axhline(target, color="red", ls="--", lw=1, label=f"target {target:,.0f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel("env steps/s (median; bars min..p95)")
    sysinfo = report["system"]
    ax.set_title(
        f"Caravan throughput vs {key} — {sysinfo['backend']} "
        f"({sysinfo['cpu_count_logical']} cores), {report['timestamp']}",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
