"""Process helpers for tests that run real servers on loopback (free ports, readiness, stop)
or signal their children."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start `cmd` in its own process group with stdout and stderr into `log`."""
    out = log.open("wb")
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll `url` until it answers 2xx; fail early with the log if the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if 200 <= resp.status < 300:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def sigint_not_ignored() -> Iterator[None]:
    """Children started inside get SIGINT's default action, whatever this process inherited.

    A shell without job control starts background commands (`make test &`, `nohup ... &`)
    with SIGINT ignored, children inherit that, and Python then installs no KeyboardInterrupt
    handler: a Ctrl-C test would fail by how the suite was launched. A Python handler here is
    reset to the default by exec, so the child starts as it would from a terminal.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


# A real but tiny training config: seconds of compute, yet every record file and a checkpoint.
TINY_TRAIN_ARGS = (
    "--num-envs",
    "16",
    "--rollout-steps",
    "8",
    "--updates-per-window",
    "2",
    "--epochs",
    "1",
    "--minibatches",
    "2",
    "--hidden",
    "32",
    "--wandb",
    "disabled",
)


def train_tiny(runs_dir: Path, run_id: str, *extra: str) -> None:
    """Run `python -m ppo.train` with TINY_TRAIN_ARGS (plus `extra`) into `runs_dir`."""
    repo = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        "-m",
        "ppo.train",
        *TINY_TRAIN_ARGS,
        "--run-dir",
        str(runs_dir),
        "--run-id",
        run_id,
        *extra,
    ]
    proc = subprocess.run(
        cmd,
        cwd=repo,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"training failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert (runs_dir / run_id / "windows.jsonl").is_file()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def run_tiny_benchmark(module: str, out: Path, *sets: str) -> tuple[str, dict]:
    """Run `python -m <module> --num-envs 32 --repeats 1 --set ... --out <out>` (a benchmark
    on `benchmarks.cli.run_report`), assert it exits 0, and return (stdout, the JSON report)."""
    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", module, "--num-envs", "32", "--repeats", "1", "--out", str(out)]
    for item in sets:
        cmd += ["--set", item]
    proc = subprocess.run(
        cmd,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())
