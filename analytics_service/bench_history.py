"""Benchmark: `/history` and `windows.csv` of a long run through a real uvicorn service.

    python -m analytics_service.bench_history --windows 10000 --requests 40

Writes a synthetic run of `--windows` windows (checked against docs/schemas when
jsonschema is installed) to a temp dir, starts `python -m analytics_service` on a free
127.0.0.1 port (no warm-up), and prints the cold first request (the column store is built),
then p50/p90 of `/history?max_points=~1000` where every request asks for a new
`max_points` (so its body is downsampled, encoded and gzipped anew from the cached
columns: the uncached figure), the same with the repeated `max_points=1000` (served from
the body kept for the records' version), with and without gzip, a few-key request, and the
full CSV; then restarts the service with its start-up warm-up, waits for it to go idle
and prints that first `/history`. Also prints the service process's CPU seconds per
request, a figure less at the mercy of other load on the machine than wall time.
Prints figures only: no pass/fail (speed targets live here, not in timed tests).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics_service.keys import WINDOW_KEYS

REPO = Path(__file__).resolve().parents[1]


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_synthetic_run(runs_dir: Path, run_id: str, windows: int, seed: int = 0) -> Path:
    """A finished run of `windows` windows whose records follow docs/RUN_RECORDS.md."""
    rng = random.Random(seed)
    path = runs_dir / run_id
    path.mkdir(parents=True)
    created = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    num_envs, rollout, upw = 8192, 64, 8
    per_window = num_envs * rollout * upw
    lines = []
    for w in range(windows):
        progress = w / max(windows - 1, 1)
        ret = 2.5 * progress + rng.gauss(0, 0.2) + (30.0 if rng.random() < 0.001 else 0.0)
        row = {
            "window_id": w,
            "env_steps": (w + 1) * per_window,
            "first_update": w * upw,
            "last_update": w * upw + upw - 1,
            "wall_time_s": 30.0 + 3.4 * (w + 1),
            "window_time_s": 3.4 + rng.random() * 0.1,
            "sps": 1.2e6 + rng.gauss(0, 1e4),
            "compile_s": 25.0 if w == 0 else None,
            "timestamp": _iso(created + timedelta(seconds=30 + 3.4 * (w + 1))),
            "train/return_mean": ret,
            "train/profit_mean": ret * 100,
            "train/survival_rate": min(1.0, 0.5 + 0.5 * progress),
            "train/invalid_action_rate": 0.02 * (1 - progress),
            "train/episode_length_mean": 200 + 160 * progress,
            "train/episodes": rng.randint(100, 900),
            "eval/return_mean": ret + rng.gauss(0, 0.1),
            "eval/return_p10": ret - 1.0,
            "eval/return_p90": ret + 1.0,
            "eval/profit_mean": ret * 100,
            "eval/survival_rate": min(1.0, 0.5 + 0.5 * progress),
            "eval/invalid_action_rate": 0.02 * (1 - progress),
            "actions/wait": 0.4,
            "actions/travel": 0.3,
            "actions/buy": 0.15,
            "actions/sell": 0.15,
            "loss/policy": rng.gauss(0, 0.01),
            "loss/value": math.exp(-3 * progress) + rng.random() * 0.05,
            "loss/entropy": 3.0 * (1 - 0.6 * progress),
            "loss/approx_kl": abs(rng.gauss(0.01, 0.005)),
            "loss/clip_frac": rng.random() * 0.2,
            "loss/explained_variance": 0.9 * progress,
            "opt/lr": 3e-4 * (1 - progress) + 1e-6,
            "opt/grad_norm": abs(rng.gauss(0.5, 0.2)),
        }
        assert set(row) == set(WINDOW_KEYS)
        lines.append(json.dumps(row))
    (path / "windows.jsonl").write_text("\n".join(lines) + "\n")
    meta = {
        "schema_version": 1,
        "run_id": run_id,
        "name": f"synthetic {windows}-window run",
        "created_at": _iso(created),
        "updated_at": _iso(created + timedelta(seconds=30 + 3.4 * windows)),
        "state": "finished",
        "config": {
            "num_envs": num_envs,
            "rollout_steps": rollout,
            "updates_per_window": upw,
            "total_steps": windows * per_window,
            "epochs": 4,
            "minibatches": 4,
            "lr": 3e-4,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "clip": 0.2,
            "ent_coef": 0.01,
            "vf_coef": 0.5,
            "hidden": 256,
            "seed": seed,
            "action_masking": True,
            "num_seeds": 1,
            "eval_episodes": 128,
        },
        "wandb": None,
        "code_version": "unknown",
        "windows_completed": windows,
        "last_checkpoint": None,
        "best_checkpoint": None,
        "error": None,
    }
    (path / "run.json").write_text(json.dumps(meta))
    return path


def validate(path: Path) -> str:
    """Check run.json and every window row against docs/schemas (needs jsonschema)."""
    try:
        import jsonschema
    except ImportError:
        return "not checked (jsonschema not installed)"
    schemas = REPO / "docs" / "schemas"
    run_schema = json.loads((schemas / "run.schema.json").read_text())
    row_schema = json.loads((schemas / "window_row.schema.json").read_text())
    jsonschema.validate(json.loads((path / "run.json").read_text()), run_schema)
    check = jsonschema.Draft202012Validator(row_schema)
    rows = (path / "windows.jsonl").read_text().splitlines()
    for line in rows:
        check.validate(json.loads(line))
    return f"valid against docs/schemas ({len(rows)} rows)"


def _get(url: str, gzip_ok: bool) -> tuple[float, int]:
    req = urllib.request.Request(
        url, headers={"Accept-Encoding": "gzip" if gzip_ok else "identity"}
    )
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        size = len(resp.read())
    return (time.perf_counter() - t) * 1000, size


def _cpu_s(pid: int) -> float:
    # utime + stime of the service process, from /proc (Linux).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _series(name: str, urls: list[str], gzip_ok: bool, pid: int, before=None) -> None:
    cpu0 = _cpu_s(pid)
    times, size = [], 0
    for url in urls:
        if before is not None:
            before()
        ms, size = _get(url, gzip_ok)
        times.append(ms)
    n = len(urls)
    cpu_ms = (_cpu_s(pid) - cpu0) / n * 1000
    times.sort()
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    print(
        f"{name:<48} p50 {statistics.median(times):7.1f} ms  p90 {p90:7.1f} ms  "
        f"server CPU {cpu_ms:6.1f} ms/req  body {size / 1024:7.0f} KiB"
    )


def _start(runs: Path, tmp: str, warm_runs: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "ANALYTICS_CACHE_DIR": str(Path(tmp) / "cache"), "WANDB_API_KEY": ""}
    env["ANALYTICS_RATE_LIMIT_PER_S"] = env["ANALYTICS_RATE_LIMIT_BURST"] = "100000"
    env["ANALYTICS_WARM_RUNS"] = str(warm_runs)
    cmd = [
        sys.executable, "-m", "analytics_service", "--host", "127.0.0.1",
        "--port", str(port), "--runs-dir", str(runs), "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    _wait(base, proc)
    return proc, base


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=15)


def _wait_idle(pid: int, timeout_s: float = 120) -> None:
    # The warm-up runs in the service: wait until its CPU time stops growing.
    deadline = time.monotonic() + timeout_s
    last = _cpu_s(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)  # sampling a CPU counter: no event to wait on
        now = _cpu_s(pid)
        if now - last < 0.02:
            return
        last = now


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--windows", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=40, help="per series (1-400)")
    args = ap.parse_args(argv)
    if args.windows < 1 or not 1 <= args.requests <= 400:
        print("error: --windows must be >= 1 and --requests in 1-400", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench_history_") as tmp:
        runs = Path(tmp) / "runs"
        run_id = f"synthetic{args.windows}"
        path = write_synthetic_run(runs, run_id, args.windows)
        print(f"run {run_id}: {args.windows} windows, {validate(path)}")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        n = args.requests
        proc, base = _start(runs, tmp, warm_runs=0)
        try:
            hist = f"{base}/api/local/runs/{run_id}/history?max_points=1000"
            ms, _ = _get(hist, True)
            print(f"{'cold: first /history (builds the columns)':<48} {ms:7.1f} ms")
            # max_points 1000, 999, ...: a new body each time (picked, encoded, gzipped)
            at = hist.removesuffix("1000")
            fresh = [f"{at}{1000 - i}" for i in range(n)]
            _series("/history?max_points=~1000, new body (gzip)", fresh, True, proc.pid)
            fresh = [f"{at}{1000 - n - i}" for i in range(n)]
            _series("/history?max_points=~1000, new body (identity)", fresh, False, proc.pid)
            _series("/history?max_points=1000 (gzip)", [hist] * n, True, proc.pid)
            _series("/history?max_points=1000 (identity)", [hist] * n, False, proc.pid)
            few = [f"{at}{999 - i}&keys=eval/return_mean,eval/survival_rate,sps" for i in range(n)]
            _series("/history 3 keys, new body (gzip)", few, True, proc.pid)
            # a live run: one window appended before each request (a new records version)
            _series(
                "/history?max_points=1000, live: +1 window (gzip)",
                [hist] * n,
                True,
                proc.pid,
                before=_appender(path / "windows.jsonl"),
            )
            csv_url = f"{base}/api/local/runs/{run_id}/windows.csv"
            _series("/windows.csv (every window, every key)", [csv_url] * max(3, n // 8), True,
                    proc.pid)  # fmt: skip
        finally:
            _stop(proc)
        proc, base = _start(runs, tmp, warm_runs=4)
        try:
            _wait_idle(proc.pid)
            hist = f"{base}/api/local/runs/{run_id}/history?max_points=1000"
            ms, _ = _get(hist, True)
            print(f"{'warmed at start-up: first /history':<48} {ms:7.1f} ms")
        finally:
            _stop(proc)
    return 0


def _appender(windows: Path):
    lines = windows.read_text().splitlines()
    last = json.loads(lines[-1])

    def append() -> None:
        last["window_id"] += 1
        with windows.open("a") as f:
            f.write(json.dumps(last) + "\n")

    return append


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)  # polling a starting server: no condition to wait on but this
    raise SystemExit("the service did not start within 60 s")


if __name__ == "__main__":
    sys.exit(main())
