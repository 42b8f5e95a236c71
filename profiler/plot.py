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
    fig, (ax, ax_cpu) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)
    for mode in dict.fromkeys(r["mode"] for r in report["runs"]):
        runs = [r for r in report["runs"] if r["mode"] == mode]
        if mode == "reference":
            ax.axhline(
                runs[0]["steps_per_sec"]["p50"],
                color="grey",
                ls=":",
                label="reference (1 Python env)",
            )
            cpu = runs[0]["cpu"].get("steps_per_cpu_s")
            if cpu:
                ax_cpu.axhline(cpu, color="grey", ls=":", label="reference")
            continue
        runs.sort(key=lambda r: r[key])
        xs = [r[key] for r in runs]
        p50 = [r["steps_per_sec"]["p50"] for r in runs]
        lo = [r["steps_per_sec"]["p50"] - r["steps_per_sec"]["min"] for r in runs]
        hi = [r["steps_per_sec"]["p95"] - r["steps_per_sec"]["p50"] for r in runs]
        ax.errorbar(xs, p50, yerr=[lo, hi], marker="o", capsize=3, label=mode)
        cpu_pts = [(r[key], r["cpu"].get("steps_per_cpu_s")) for r in runs]
        cpu_pts = [(x, y) for x, y in cpu_pts if y]
        if cpu_pts:
            ax_cpu.plot(*zip(*cpu_pts, strict=True), marker="o", label=mode)
    target = report["target"]["steps_per_sec"]
    ax.axhline(target, color="red", ls="--", lw=1, label=f"target {target:,.0f}")
    for a in (ax, ax_cpu):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.set_xlabel(key)
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    ax.set_ylabel("env steps/s (median; bars min..p95)")
    ax_cpu.set_ylabel("env steps per CPU-second (load-robust)")
    sysinfo = report["system"]
    load = sysinfo.get("load_average_start") or []
    fig.suptitle(
        f"Caravan throughput vs {key} - {sysinfo['backend']} "
        f"({sysinfo['cpu_count_logical']} cores, load {'/'.join(f'{x:.1f}' for x in load)}), "
        f"{report['timestamp']}",
        fontsize=9,
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
