"""`python -m benchmarks.failure_bounds [--repeats N]`: how fast a multi-process run ends when
process 0 or the launcher dies (the figures in docs/SCALING.md, "Failures: bounds").

Two scenarios on loopback, CPU, 2 processes x 1 device, the tests' small config:
- process 0 SIGKILLs itself after window 1 (`tests/kill_after_window.py 1@0`): seconds from
  process 0's end to process 1's, process 1's exit status and its last stderr line;
- `ppo.launch` is SIGKILLed after process 0's first window line: seconds until every process
  below it has exited (Linux /proc).
Prints one line per run. Run from the repository root with PYTHONPATH set to it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ppo.launch import free_port
from tests.procs import descendants, gone

TRAIN_ARGS = (
    *("--num-envs", "256", "--rollout-steps", "16", "--updates-per-window", "2"),
    *("--minibatches", "2", "--epochs", "1", "--hidden", "32", "--eval-episodes", "8"),
    *("--total-steps", str(3 * 256 * 16 * 2), "--wandb", "disabled", "--peer-timeout-s", "3"),
)


def _env(cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "SLURM_"))}
    env.pop("XLA_FLAGS", None)
    env.update(
        JAX_PLATFORMS="cpu",
        PYTHONUNBUFFERED="1",
        JAX_COMPILATION_CACHE_DIR=cache,
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    return env


def coordinator_killed(runs: Path, env: dict[str, str], k: int) -> str:
    addr = f"127.0.0.1:{free_port()}"
    base = [sys.executable, "-m", "tests.kill_after_window", "1@0", *TRAIN_ARGS]
    base += ["--run-dir", str(runs), "--run-id", f"coord{k}", "--coordinator", addr]
    procs = [
        subprocess.Popen(
            [*base, "--num-processes", "2", "--process-id", str(i)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if i else subprocess.DEVNULL,
            text=True,
        )
        for i in range(2)
    ]
    procs[0].wait()
    t0 = time.monotonic()
    rc = procs[1].wait()
    took = time.monotonic() - t0
    err = procs[1].stderr.read() if procs[1].stderr else ""
    last = (err.strip().splitlines() or [""])[-1]
    return f"process 0 killed: process 1 exit {rc}, {took:.3f} s later; last line {last!r}"


def launcher_killed(runs: Path, env: dict[str, str], k: int) -> str:
    cmd = [sys.executable, "-m", "ppo.launch", "--processes", "2", "--", *TRAIN_ARGS]
    cmd += ["--run-dir", str(runs), "--run-id", f"launch{k}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("[p0] [") and "] window 1/" in line:
            break
    kids = descendants(proc.pid)
    proc.kill()
    t0 = time.monotonic()
    proc.wait()
    while not all(gone(p) for p in kids):
        time.sleep(0.05)
    return f"launcher killed: its {len(kids)} processes gone {time.monotonic() - t0:.3f} s later"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.failure_bounds")
    p.add_argument("--repeats", type=int, default=2, help="runs of each scenario")
    ns = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(str(Path(tmp) / "jax_cache"))
        for k in range(ns.repeats):
            print(coordinator_killed(Path(tmp), env, k), flush=True)
        for k in range(ns.repeats):
            print(launcher_killed(Path(tmp), env, k), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
