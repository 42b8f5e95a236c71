"""Summary statistics and process counters (CPU time, peak RSS) for timed repeats."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def summarize(samples: Sequence[float]) -> dict:
    """mean / p50 / p95 / min / max of positive samples, plus the samples themselves."""
    if not samples:
        raise ValueError("summarize needs at least one sample")
    a = np.asarray(samples, dtype=np.float64)
    return {
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "min": float(a.min()),
        "max": float(a.max()),
        "samples": [float(x) for x in a],
    }


def usable_cores() -> int:
    """Cores this process may run on (affinity), the denominator of CPU utilisation."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def process_cpu_seconds() -> float:
    """User + system CPU time of this process and its threads so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


@dataclass(frozen=True)
class TimedRepeats:
    """Wall seconds of each timed call and the CPU seconds spent over all of them."""

    seconds: tuple[float, ...]
    cpu_s: float
    wall_s: float


def time_calls(call: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """(wall seconds, process CPU seconds) of each of `repeats` timed calls, after one untimed
    call (first-run allocations). `call` must block until its work is done, as for
    `time_repeats`."""
    call()
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        call()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus


def time_repeats(
    call: Callable[[], None],
    repeats: int,
    warmup: int,
    progress: Callable[[str], None] | None = None,
) -> TimedRepeats:
    """Run `call` warmup times untimed, then `repeats` times timed.

    `call` must block until its work is done (for JAX: `jax.block_until_ready`), so the clock
    reads finished work, not dispatched work.
    """
    for i in range(warmup):
        call()
        if progress:
            progress(f"warmup {i + 1}/{warmup} done")
    seconds: list[float] = []
    cpu0 = process_cpu_seconds()
    wall0 = time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        call()
        dt = time.perf_counter() - t0
        seconds.append(dt)
        if progress:
            progress(f"repeat {i + 1}/{repeats}: {dt:.3f} s")
    wall = time.perf_counter() - wall0
    return TimedRepeats(tuple(seconds), process_cpu_seconds() - cpu0, wall)


def cpu_block(timed: TimedRepeats, steps_per_call: int) -> dict:
    """The report's `cpu` object for a set of timed repeats.

    `steps_per_cpu_s` (env steps per CPU-second of this process) is the load-robust figure:
    on a shared machine wall-clock rates fall with other people's load, CPU time much less.
    """
    cores = usable_cores()
    util = timed.cpu_s / (timed.wall_s * cores) if timed.wall_s > 0 else None
    steps = steps_per_call * len(timed.seconds)
    return {
        "process_cpu_s": timed.cpu_s,
        "wall_s": timed.wall_s,
        "usable_cores": cores,
        "utilisation": util,
        "steps_per_cpu_s": steps / timed.cpu_s if timed.cpu_s > 0 else None,
    }
