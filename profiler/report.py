"""The report: assembling it, checking it against its JSON Schema, writing it, printing it."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from profiler import SCHEMA_VERSION
from profiler.system import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "docs" / "schemas" / "throughput_report.schema.json"


def attach_ceiling_fractions(run: dict, ceiling: dict | None) -> None:
    """Fill the run's fractions of the measured ceiling (None without a ceiling)."""
    peak_flops = ceiling["matmul"]["flops_per_sec"]["p50"] if ceiling else None
    peak_bytes = ceiling["copy"]["bytes_per_sec"]["p50"] if ceiling else None
    net = run.get("network")
    if net is not None:
        achieved = net["flops_per_env_step"] * run["steps_per_sec"]["p50"]
        net["achieved_flops_per_sec"] = achieved
        net["fraction_of_matmul_ceiling"] = achieved / peak_flops if peak_flops else None
    mem = run.get("memory_traffic")
    if mem is not None:
        mem["min_fraction_of_copy_ceiling"] = (
            mem["min_bytes_per_sec"] / peak_bytes if peak_bytes else None
        )
        xla = mem.get("xla_bytes_per_sec")
        mem["xla_fraction_of_copy_ceiling"] = xla / peak_bytes if peak_bytes and xla else None


def validate(report: dict) -> None:
    """Raise `jsonschema.ValidationError` when the report breaks its schema.

    jsonschema is a dev dependency; without it the check is skipped (the tests run it).
    """
    try:
        import jsonschema
    except ModuleNotFoundError:
        return
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(report)


def write_json(path: str | Path, payload: dict | list) -> None:
    """Write JSON atomically (temp file in the same folder, fsync, rename).

    ValueError when `path` exists and is not a regular file (a rename would replace a device,
    a FIFO or a socket with the report).
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} is not a regular file; the report is not written there")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def skeleton() -> dict:
    """The report's fixed header fields."""
    return {"schema_version": SCHEMA_VERSION, "kind": "caravan.throughput_report"}


def _si(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.2f} {prefix}{unit}".rstrip()
    return f"{x:.3g} {unit}".rstrip()


def table(report: dict) -> str:
    """Human-readable summary: one row per run, then ceiling, ratios and checks."""
    head = (
        "mode",
        "envs",
        "p50 steps/s",
        "mean",
        "p95",
        "min",
        "compile s",
        "cpu util",
        "steps/cpu-s",
        "peak RSS",
        "FLOP/s",
        "of peak",
    )
    rows = [head]
    for r in report["runs"]:
        s = r["steps_per_sec"]
        net = r.get("network") or {}
        util = r["cpu"]["utilisation"]
        frac = net.get("fraction_of_matmul_ceiling")
        rows.append(
            (
                r["mode"],
                str(r["num_envs"]),
                f"{s['p50']:,.0f}",
                f"{s['mean']:,.0f}",
                f"{s['p95']:,.0f}",
                f"{s['min']:,.0f}",
                "-" if r["compile_s"] is None else f"{r['compile_s']:.1f}",
                "-" if util is None else f"{util:.0%}",
                "-"
                if r["cpu"]["steps_per_cpu_s"] is None
                else f"{r['cpu']['steps_per_cpu_s']:,.0f}",
                _si(r["peak_rss_bytes"], "B"),
                _si(net.get("achieved_flops_per_sec")),
                "-" if frac is None else f"{frac:.2%}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    sysinfo = report["system"]
    lines.append("")
    lines.append(
        f"backend {sysinfo['backend']} ({sysinfo['device_kind']} x{sysinfo['device_count']}), "
        f"jax {sysinfo['jax_version']}, {sysinfo['cpu_model']}, "
        f"{sysinfo['cpu_count_logical']} cores, load {sysinfo['load_average_start']}"
    )
    ceiling = report.get("ceiling")
    if ceiling:
        lines.append(
            f"ceiling: matmul {ceiling['matmul']['n']}^2 f32 "
            f"{_si(ceiling['matmul']['flops_per_sec']['p50'], 'FLOP/s')}, copy "
            f"{_si(ceiling['copy']['bytes_per_sec']['p50'], 'B/s')} (medians)"
        )
    for r in report["runs"]:
        mem = r.get("memory_traffic")
        if mem and mem.get("xla_bytes_per_env_step") is not None:
            frac = mem.get("xla_fraction_of_copy_ceiling")
            lines.append(
                f"{r['mode']} @{r['num_envs']}: XLA estimates "
                f"{mem['xla_bytes_per_env_step']:,.0f} B and "
                f"{(mem.get('xla_flops_per_env_step') or 0):,.0f} FLOP per env step"
                + ("" if frac is None else f" ({frac:.0%} of copy bandwidth)")
            )
    d = report["derived"]
    if d["env_only_over_reference"] is not None:
        lines.append(f"env-only / reference: {d['env_only_over_reference']:,.1f}x")
    if d["trainer_eval_drop"] is not None:
        lines.append(f"trainer+eval vs trainer (two runs): {-d['trainer_eval_drop']:+.1%}")
    if d.get("eval_checkpoint_share") is not None:
        lines.append(
            f"eval + checkpoint share of a trainer+eval window: {d['eval_checkpoint_share']:.1%}"
        )
    peer = report.get("peer")
    if peer:
        ppo_p50, peer_p50 = peer["ppo"]["steps_per_sec_p50"], peer["peer"]["steps_per_sec_p50"]
        per_cpu = peer["ratio_per_cpu_s"] or 0.0
        lines.append(
            f"vs peer (benchmarks/peer.py, alternated {peer['repeats']}x in one process): "
            f"ppo {ppo_p50:,.0f} vs peer {peer_p50:,.0f} steps/s = {peer['ratio']:.2f}x "
            f"(per CPU-s {per_cpu:.2f}x)"
        )
    for c in report["checks"]:
        mark = "ok  " if c["passed"] else "MISS"
        lines.append(f"[{mark}] {c['name']}: {c['value']:,.4g} {c['op']} {c['threshold']:,.4g}")
    return "\n".join(lines)
