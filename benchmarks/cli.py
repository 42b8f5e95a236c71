"""The shared command line of the trainer benchmarks (breakdown, dot_rates, vs_peer), checked
before jax.

`--num-envs`, `--repeats` and `--set KEY=VALUE` (a ppo TrainConfig field) are parsed and
checked against TrainConfig's declared bounds and the run's memory estimate
(ppo.config.validate_static); a bad one exits 2 with one `error: ...` line in about a second.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envjax.argparser import OneLineParser
from ppo.config import ConfigError, TrainConfig, check_field, field_kind, validate_static

MAX_REPEATS = 10_000


def parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """--num-envs, --repeats and --set, with one-line errors."""
    p = OneLineParser(prog=prog, description=description)
    p.add_argument("--num-envs", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=3, help=f"timed calls, 1..{MAX_REPEATS}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    return p


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` TrainConfig overrides typed by the field's declared kind; ConfigError for
    an unknown key or a value of the wrong kind."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    kw: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with KEY a TrainConfig field")
        kind = field_kind(fields[key])
        value: Any = raw.strip()
        try:
            if kind == "bool":
                value = {"true": True, "false": False}.get(value.lower(), value)
            elif kind in ("int", "int | None"):
                value = int(value)
            elif kind == "float":
                value = float(value)
        except ValueError:
            pass  # check_field names the flag and the kind it needs
        msg = check_field(key, kind, value, dict(fields[key].metadata))
        if msg:
            raise ConfigError(f"--set {key}: {msg}")
        kw[key] = value
    return kw


def config_from_args(a: argparse.Namespace, out: str | None = None) -> TrainConfig:
    """The TrainConfig of a benchmark command, or exit 2 with one line."""
    try:
        if not 1 <= a.repeats <= MAX_REPEATS:
            raise ConfigError(f"--repeats must be in [1, {MAX_REPEATS}] (got {a.repeats})")
        if out is not None and Path(out).exists() and not Path(out).is_file():
            raise ConfigError(f"--out {out!r} is not a regular file")
        tc = TrainConfig(**{**parse_sets(a.set), "num_envs": a.num_envs})
        validate_static(tc)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    return tc


def run_report(
    prog: str,
    doc: str | None,
    measure: Callable[[TrainConfig, int, Callable[[str], None]], dict],
    table: Callable[[dict], str],
    argv: list[str] | None = None,
) -> int:
    """The main of a benchmark that measures one TrainConfig into a report: parse the shared
    flags and `--out`, `measure(config, repeats, progress)` with progress lines on stderr,
    print `table(report)` and write the report as JSON to `--out` when given. Returns 0; bad
    input exits 2 with one line (`config_from_args`)."""
    from profiler.report import write_json

    p = parser(f"python -m {prog}", doc)
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    a = p.parse_args(argv)
    tc = config_from_args(a, out=a.out)
    name = prog.rsplit(".", 1)[-1]
    report = measure(tc, a.repeats, lambda m: print(f"{name}: {m}", file=sys.stderr, flush=True))
    print(table(report))
    if a.out:
        write_json(a.out, report)
    return 0
