"""`python -m profiler.compare BEFORE.json AFTER.json`: per-mode ratios between two reports.

Prints, for every (mode, num_envs) in both reports, the median steps/s and steps per
CPU-second of each and their ratios, plus each report's load average, so a change's
measured effect can be read off on a noisy shared machine (the CPU-second ratio is the
load-robust one).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _index(report: dict) -> dict[tuple[str, int], dict]:
    return {(r["mode"], r["num_envs"]): r for r in report["runs"]}


def _label(report: dict) -> str:
    cfg = report["config"]
    extra = []
    if cfg.get("trainer_overrides"):
        extra.append(" ".join(f"{k}={v}" for k, v in cfg["trainer_overrides"].items()))
    if cfg.get("xla_flags"):
        extra.append(f"XLA_FLAGS+={cfg['xla_flags']}")
    if cfg.get("env_variant") not in (None, "auto-reset"):
        extra.append(f"env {cfg['env_variant']}")
    load = report["system"].get("load_average_start") or []
    return (
        f"{report['timestamp']} {report['code_version'][:10]} "
        f"load {'/'.join(f'{x:.1f}' for x in load) or '?'}"
        + (f" [{'; '.join(extra)}]" if extra else "")
    )


def compare(before: dict, after: dict) -> str:
    """A text table of per-mode ratios (after / before)."""
    a, b = _index(before), _index(after)
    lines = [f"before: {_label(before)}", f"after:  {_label(after)}", ""]
    head = (
        "mode",
        "envs",
        "p50 before",
        "p50 after",
        "ratio",
        "cpu-s before",
        "cpu-s after",
        "ratio",
    )
    rows = [head]
    for key in [k for k in a if k in b]:
        ra, rb = a[key], b[key]
        pa, pb = ra["steps_per_sec"]["p50"], rb["steps_per_sec"]["p50"]
        ca, cb = ra["cpu"].get("steps_per_cpu_s"), rb["cpu"].get("steps_per_cpu_s")
        rows.append(
            (
                key[0],
                str(key[1]),
                f"{pa:,.0f}",
                f"{pb:,.0f}",
                f"{pb / pa:.2f}x",
                "-" if ca is None else f"{ca:,.0f}",
                "-" if cb is None else f"{cb:,.0f}",
                "-" if not (ca and cb) else f"{cb / ca:.2f}x",
            )
        )
    if len(rows) == 1:
        return "\n".join([*lines, "no (mode, num_envs) in common"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        lines.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 on success, 2 when a report cannot be read."""
    p = argparse.ArgumentParser(prog="python -m profiler.compare", description=__doc__)
    p.add_argument("before")
    p.add_argument("after")
    args = p.parse_args(argv)
    try:
        before = json.loads(Path(args.before).read_text())
        after = json.loads(Path(args.after).read_text())
        print(compare(before, after))
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        print(f"python -m profiler.compare: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
