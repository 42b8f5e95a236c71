"""The trainer as N processes (jax.distributed over loopback, one CPU device each).

- 2 processes x 1 device write the same window rows and checkpoint bytes as 1 process x 2
  devices (XLA_FLAGS=--xla_force_host_platform_device_count=2 --num-devices 2);
- a process killed mid-run: the other stops with one line and marks the run crashed, and
  `--resume` (again 2 processes) ends with the uninterrupted result;
- a frozen peer is detected within --peer-timeout-s, a missing peer within --join-timeout-s;
- process 0 killed: the others stop at once with our one line (no C++ abort text), the run
  reads crashed (its lock holder is dead), and `--resume` ends with the uninterrupted result;
- the launcher killed (or Ctrl-C): none of its processes outlives it;
- SLURM's variables alone (JAX's cluster detection) start the same 2-process run;
- processes started with different arguments all stop with the same one-line error;
- plus the pure parts: how the processes are named (flags, environment, SLURM) and the
  launcher's command lines.

The frozen-peer, frozen-coordinator, profiler-under-the-launcher and launcher-Ctrl-C tests
are in the slow tier (`-m slow`).
Sizes: 256 envs, 3 windows of 2 updates. Every wait is on an exit code (with generous
timeouts); the time bounds asserted are the documented ones plus wide slack for a loaded box.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kill_after_window import parse_spec
from procs import descendants, free_port, gone

from analytics_service.liveness import effective_state
from ppo import checkpoint, distributed, launch, records
from ppo.metrics import PHASE_KEYS, TIMING_KEYS
from ppo.runlock import RunLock, check_unlocked
from ppo.stderr_guard import coordinator_lost_line

REPO = Path(__file__).resolve().parent.parent
WINDOWS = 3
TRAIN_ARGS = [
    "--num-envs",
    "256",
    "--rollout-steps",
    "16",
    "--updates-per-window",
    "2",
    "--minibatches",
    "2",
    "--epochs",
    "1",
    "--hidden",
    "32",
    "--eval-episodes",
    "8",
    "--total-steps",
    str(WINDOWS * 256 * 16 * 2),
    "--wandb",
    "disabled",
]
TIMEOUT_S = 900  # per command; a loaded 2-core box compiles slowly


_CACHE: dict[str, str] = {}  # JAX's persistent compilation cache, shared by this module's runs


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_COORDINATOR", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "SLURM_"))
    }
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **extra)
    env.pop("XLA_FLAGS", None)
    env.update(_CACHE, **extra)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def _launch(runs: Path, *args: str, module: str = "ppo.train") -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "ppo.launch", "--processes", "2", "--module", module, "--"]
    return _run([*cmd, *args, "--run-dir", str(runs)], _env())


def _ids(n: int, i: int) -> list[str]:
    return ["--num-processes", str(n), "--process-id", str(i)]


def _metrics(run: Path) -> list[dict]:
    """Window rows without the timing keys (which differ run to run)."""
    timing = (*TIMING_KEYS, *PHASE_KEYS)
    return [{k: v for k, v in r.items() if k not in timing} for r in records.read_windows(run)]


def _hashes(run: Path) -> dict[int, str]:
    """sha256 of each kept checkpoint's state and params bytes."""
    out = {}
    for w in checkpoint.complete_windows(run):
        d = run / "checkpoints" / str(w)
        h = hashlib.sha256()
        for name in ("state.msgpack", "params.msgpack"):
            h.update((d / name).read_bytes())
        out[w] = h.hexdigest()
    return out


def _fail(proc: subprocess.CompletedProcess[str]) -> str:
    return f"rc={proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="module", autouse=True)
def compile_cache(tmp_path_factory):
    """One compilation cache for the module: the 2-process runs share one program, so only
    the first compiles it (compiling dominates these tests on a small box)."""
    _CACHE.update(
        JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp("jax_cache")),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    yield
    _CACHE.clear()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mp_runs")


@pytest.fixture(scope="module")
def reference(runs) -> Path:
    """1 process x 2 devices: the result every multi-process run must reproduce."""
    cmd = [sys.executable, "-m", "ppo.train", *TRAIN_ARGS, "--num-devices", "2"]
    env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = _run([*cmd, "--run-dir", str(runs), "--run-id", "ref"], env)
    assert proc.returncode == 0, _fail(proc)
    assert "on 2 cpu device(s)" in proc.stdout
    return runs / "ref"


def test_two_processes__same_rows_and_checkpoints_as_two_devices(runs, reference):
    proc = _launch(runs, *TRAIN_ARGS)  # no --run-id: process 0 makes one, all agree on it
    assert proc.returncode == 0, _fail(proc)
    made = [
        line.split("run records: ")[1]
        for line in proc.stdout.splitlines()
        if "run records:" in line
    ]
    assert len(made) == 1 and proc.stdout.count("[p0] run records:") == 1, proc.stdout
    run = Path(made[0])
    assert "on 2 cpu device(s)" in proc.stdout
    assert "[p1] [" not in proc.stdout.replace("[p1] [Gloo]", "")  # only process 0 reports
    assert sorted(p.name for p in runs.iterdir() if p.name != "ref") == [run.name]
    assert records.read_run(run)["state"] == "finished"
    assert [r["window_id"] for r in records.read_windows(run)] == list(range(WINDOWS))
    assert _metrics(run) == _metrics(reference)
    assert _hashes(run) == _hashes(reference) and len(_hashes(run)) == WINDOWS


def test_two_processes__killed_peer_then_resume_gives_uninterrupted_result(runs, reference):
    # process 1 SIGKILLs itself after window 1 (tests/kill_after_window.py)
    proc = _launch(runs, "1@1", *TRAIN_ARGS, "--run-id", "kr", module="tests.kill_after_window")
    assert proc.returncode == 1, _fail(proc)
    p0_errors = [x for x in proc.stdout.splitlines() if x.startswith("[p0] error:")]
    assert len(p0_errors) == 1 and "process 0 of 2" in p0_errors[0], proc.stdout
    assert "launch: process 1 of 2 was killed by signal 9" in proc.stderr
    meta = records.read_run(runs / "kr")
    assert meta["state"] == "crashed" and meta["last_checkpoint"] == 1
    proc = _launch(runs, "--resume", "kr", "--wandb", "disabled")
    assert proc.returncode == 0, _fail(proc)
    run = runs / "kr"
    assert records.read_run(run)["state"] == "finished"
    assert _metrics(run) == _metrics(reference)
    assert _hashes(run) == _hashes(reference)


@pytest.mark.slow  # a third 2-process training run (~15% of this file); -m slow runs it
def test_two_processes__frozen_peer_stops_the_other_within_the_peer_timeout(runs):
    """Process 1 freezes (SIGSTOP, like a hung host) after window 0: its sockets stay open,
    so only the missing heartbeats tell; process 0 must stop within --peer-timeout-s.
    The processes are named by JAX's environment variables here (the issue's first try)."""
    peer_timeout = 3
    cmd = [
        sys.executable,
        "-m",
        "tests.kill_after_window",
        "0@1:SIGSTOP",
        *TRAIN_ARGS,
        "--run-dir",
        str(runs),
        "--run-id",
        "frozen",
        "--peer-timeout-s",
        str(peer_timeout),
    ]
    addr = f"127.0.0.1:{free_port()}"
    procs = [
        subprocess.Popen(
            cmd,
            cwd=REPO,
            env=_env(JAX_COORDINATOR_ADDRESS=addr, JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        out0, err0 = procs[0].communicate(timeout=TIMEOUT_S)
        exited = time.time()
    finally:
        for p in procs:
            p.kill()
            p.communicate()
    assert procs[0].returncode == 1, f"{out0[-3000:]}\n{err0[-3000:]}"
    last = err0.strip().splitlines()[-1]
    assert last.startswith(
        "error: process 1 of 2 is gone (it exited, or sent no heartbeat for 3 s)"
    ), err0[-3000:]
    assert "Check failure stack trace" not in err0
    meta = records.read_run(runs / "frozen")
    assert meta["state"] == "crashed" and "process 1 of 2 is gone" in meta["error"]
    # the bound: window 0's row is written about when process 1 freezes; process 0 must be
    # gone within the peer timeout + the watchdog's poll (wide slack for a loaded machine)
    (row,) = records.read_windows(runs / "frozen")
    took = exited - datetime.fromisoformat(row["timestamp"]).timestamp()
    assert took < peer_timeout + distributed.POLL_S + 45, took


def test_missing_peer__fails_within_the_join_timeout_with_one_line(runs):
    cmd = [sys.executable, "-m", "ppo.train", *TRAIN_ARGS, "--run-dir", str(runs)]
    cmd += ["--run-id", "alone", "--coordinator", f"127.0.0.1:{free_port()}"]
    cmd += ["--num-processes", "2", "--process-id", "0", "--join-timeout-s", "3"]
    t0 = time.monotonic()
    proc = _run(cmd, _env())
    took = time.monotonic() - t0
    assert proc.returncode == 1, _fail(proc)
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("error: process 0 could not join the 2-process launch at 127.0.0.1:")
    ), proc.stderr[-2000:]
    assert "Check failure stack trace" not in proc.stderr
    assert not (runs / "alone").exists()
    assert took < 3 + 60, took  # the bound plus start-up (imports) on a loaded box


def _both_refuse(runs: Path, args_for: Callable[[int], list[str]]) -> list[str]:
    """Start `ppo.train` as processes 0 and 1 of 2 (process I with `args_for(I)`), assert
    both exit 2, and return each one's last stderr line."""
    addr = f"127.0.0.1:{free_port()}"
    base = [sys.executable, "-m", "ppo.train", *TRAIN_ARGS, "--run-dir", str(runs)]
    procs = [
        subprocess.Popen(
            [*base, *args_for(i), "--coordinator", addr, *_ids(2, i)],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 2, err[-3000:]
        errs.append(err.strip().splitlines()[-1])
    return errs


def test_processes_with_different_arguments__all_stop_with_the_same_line(runs):
    before = sorted(p.name for p in runs.iterdir())
    errs = _both_refuse(runs, lambda i: ["--seed", str(i)])
    assert "seed=1 on process 1 (process 0: 0)" in errs[0], errs
    assert errs[0].split(" (process ")[0] == errs[1].split(" (process ")[0]
    assert sorted(p.name for p in runs.iterdir()) == before  # no run made


def test_processes_on_a_live_run__all_refuse_with_the_same_line(runs):
    """A second launch on a run a live trainer holds (docs/RUN_RECORDS.md, the run lock):
    every process refuses (exit 2) with the same line, naming the holder, before any work;
    only process 0 would take the lock, the others follow its verdict."""
    lock = RunLock.acquire(runs / "busy")  # this test process stands for the live trainer
    try:
        errs = _both_refuse(runs, lambda i: ["--run-id", "busy"])
    finally:
        lock.release()
    assert f"error: run busy is being trained by pid {os.getpid()} on " in errs[0], errs
    assert errs[0].split(" (process ")[0] == errs[1].split(" (process ")[0]
    assert not (runs / "busy" / "run.json").exists()


# The C++ text JAX prints when it aborts a process (ppo.stderr_guard must keep it out).
JAX_ABORT_TEXT = ("Check failure stack trace", "Terminating process because", "client.h:")


def test_coordinator_killed__the_others_stop_with_one_line_then_resume_is_exact(
    runs, reference, tmp_path
):
    """Process 0 (it hosts JAX's coordination service) is SIGKILLed after window 1: process
    1 exits non-zero at once with our one line and none of JAX's C++ abort text; nobody can
    mark the run crashed, but its lock holder is dead so readers report it crashed; and
    `--resume` (2 processes) ends with the uninterrupted result."""
    addr = f"127.0.0.1:{free_port()}"
    base = [sys.executable, "-m", "tests.kill_after_window", "1@0", *TRAIN_ARGS]
    base += ["--run-dir", str(runs), "--run-id", "coord", "--peer-timeout-s", "3"]
    outs = [(tmp_path / f"out{i}").open("w") for i in range(2)]
    procs = [
        subprocess.Popen(
            [*base, "--coordinator", addr, *_ids(2, i)],
            cwd=REPO,
            env=_env(),
            stdout=outs[i],
            stderr=outs[i] if i == 0 else subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    err1: list[str] = []  # read while waiting, until EOF (ppo.stderr_guard writes last)
    reader = threading.Thread(target=lambda: err1.append(procs[1].stderr.read()))
    reader.start()
    try:
        assert procs[0].wait(timeout=TIMEOUT_S) == -signal.SIGKILL
        gone0 = time.monotonic()
        rc1 = procs[1].wait(timeout=TIMEOUT_S)
        took = time.monotonic() - gone0
        reader.join(timeout=60)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    err = err1[0] if err1 else ""
    assert rc1 != 0, err[-3000:]
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines and lines[-1] == coordinator_lost_line(1, 2), err[-3000:]
    assert sum(x.startswith("error:") for x in lines) == 1, err[-3000:]
    assert not any(t in err for t in JAX_ABORT_TEXT), err[-3000:]
    # the bound: process 0's loss is seen at once (the closed connection), no heartbeat
    # timeout involved; wide slack for a loaded machine
    assert took < 3 + 30, took
    run = runs / "coord"
    meta = records.read_run(run)
    assert meta["state"] == "running" and meta["last_checkpoint"] == 1  # nobody marked it
    check_unlocked(run)  # process 0's lock died with it
    heartbeat = meta.get("updated_at")
    assert effective_state("running", run, heartbeat, [], datetime.now(UTC)) == "crashed"
    proc = _launch(runs, "--resume", "coord", "--wandb", "disabled")
    assert proc.returncode == 0, _fail(proc)
    assert records.read_run(run)["state"] == "finished"
    assert _metrics(run) == _metrics(reference)
    assert _hashes(run) == _hashes(reference)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "sig",
    [
        pytest.param(signal.SIGKILL, id="SIGKILL"),
        # the launcher's own stop path (present before PR_SET_PDEATHSIG): the slow tier
        pytest.param(signal.SIGINT, id="SIGINT", marks=pytest.mark.slow),
    ],
)
def test_launcher_killed_or_interrupted__its_processes_do_not_outlive_it(runs, sig):
    """`ppo.launch` is SIGKILLed (its processes are told by the kernel: PR_SET_PDEATHSIG),
    or gets Ctrl-C (it stops them itself) after process 0's first window line: every
    process it started, and theirs, exits within the documented bound."""
    peer_timeout = 3
    cmd = [sys.executable, "-m", "ppo.launch", "--processes", "2", "--"]
    cmd += [*TRAIN_ARGS, "--run-dir", str(runs), "--run-id", f"orphan{int(sig)}"]
    cmd += ["--peer-timeout-s", str(peer_timeout)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("[p0] [") and "] window 1/" in line:
                break
        else:
            pytest.fail(f"no window line: rc={proc.wait()}\n{''.join(seen)[-3000:]}")
        kids = descendants(proc.pid)
        assert len(kids) >= 2, kids  # the two processes (and process 1's stderr filter)
        proc.send_signal(sig)
        killed = time.monotonic()
        rc = proc.wait(timeout=60)
        # bound: a process leaves on SIGTERM at once; process 0 waits at most the peer
        # timeout + 1 s for the others (ppo.distributed.exit_now); wide slack for load
        deadline = killed + peer_timeout + 1 + 30
        while not all(gone(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [k for k in kids if not gone(k)]
        assert not left, f"still running after {time.monotonic() - killed:.1f} s: {left}"
        assert rc == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for k in descendants(proc.pid) if proc.poll() is None else []:
            os.kill(k, signal.SIGKILL)


def _resolvable(name: str) -> bool:
    try:
        socket.getaddrinfo(name, None)
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _resolvable("localhost"), reason="this host cannot resolve localhost")
def test_slurm_environment_alone__two_tasks_give_the_same_rows_as_two_devices(runs, reference):
    """Two processes named only by the variables `srun` sets (JAX's SlurmCluster reads the
    job id, the step's node list, the task count, the task's global and local ids), on
    node `localhost`: no launch flag, no JAX_* variable. They join as processes 0 and 1 and
    train the same rows and checkpoint bytes as 1 process x 2 devices. JAX derives the
    coordinator port from SLURM_JOB_ID (a fixed port); JAX_COORDINATOR_PORT, which it
    reads in its cluster detection, points it at a free one instead."""
    port = str(free_port())
    cmd = [sys.executable, "-m", "ppo.train", *TRAIN_ARGS]
    cmd += ["--run-dir", str(runs), "--run-id", "slurm"]
    slurm = {
        "SLURM_JOB_ID": "4242",
        "SLURM_STEP_NODELIST": "localhost",
        "SLURM_STEP_NUM_NODES": "1",
        "SLURM_NTASKS": "2",
        "SLURM_STEP_NUM_TASKS": "2",
        "JAX_COORDINATOR_PORT": port,
    }
    procs = [
        subprocess.Popen(
            cmd,
            cwd=REPO,
            env=_env(**slurm, SLURM_PROCID=str(i), SLURM_LOCALID=str(i)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"{out[-3000:]}\n{err[-3000:]}"
    assert "on 2 cpu device(s)" in outs[0][0]
    assert outs[0][0].count("run records:") == 1 and "run records:" not in outs[1][0]
    run = runs / "slurm"
    assert records.read_run(run)["state"] == "finished"
    assert _metrics(run) == _metrics(reference)
    assert _hashes(run) == _hashes(reference)


# ---- pure parts --------------------------------------------------------------------------


def _resolve(env: dict[str, str] | None = None, **flags) -> distributed.Plan | None:
    return distributed.resolve(distributed.DistConfig(**flags), env or {})


def test_resolve__flags_environment_and_single_process():
    assert _resolve() is None
    plan = _resolve(coordinator="10.0.0.1:1234", num_processes=4, process_id=3)
    assert plan and (plan.coordinator, plan.num_processes, plan.process_id) == (
        "10.0.0.1:1234",
        4,
        3,
    )
    assert not plan.auto and plan.source == "flags"
    env = {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"}
    plan = _resolve(env)
    assert plan and (plan.coordinator, plan.num_processes, plan.process_id) == ("h:1", 2, 1)
    assert plan.source == "environment"
    assert _resolve(env, process_id=0).process_id == 0  # a flag wins over the variable
    assert _resolve(coordinator="h:1", num_processes=1, process_id=0) is None


def test_resolve__auto_detection_and_slurm_steps():
    plan = _resolve(coordinator="auto")
    assert plan and plan.auto and plan.coordinator is None and plan.source == "auto"
    step = {"SLURM_STEP_NODELIST": "n[1-2]", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2"}
    plan = _resolve(step)
    assert plan and plan.auto and plan.source == "slurm"
    assert _resolve({**step, "SLURM_STEP_NUM_TASKS": "1"}) is None  # one task: single run
    assert _resolve({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"}) is None  # not in a step


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"coordinator": "h:1"}, {}, "--num-processes (or JAX_NUM_PROCESSES)"),
        ({}, {"JAX_COORDINATOR_ADDRESS": "h:1"}, "--process-id (or JAX_PROCESS_ID)"),
        ({"coordinator": "h", "num_processes": 2, "process_id": 0}, {}, "HOST:PORT"),
        ({"coordinator": "h:1", "num_processes": 2, "process_id": 2}, {}, "in 0..1"),
        ({"coordinator": "h:1", "num_processes": 0, "process_id": 0}, {}, ">= 1"),
        ({"peer_timeout_s": 0}, {}, "--peer-timeout-s must be >= 1"),
        ({}, {"JAX_NUM_PROCESSES": "two"}, "not an integer"),
    ],
)
def test_resolve__partial_or_bad_settings_are_one_clear_error(flags, env, message):
    with pytest.raises(distributed.DistributedConfigError, match=re.escape(message)):
        _resolve(env, **flags)


def test_launch__commands_environment_and_bad_arguments(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the launcher runs ppo.train's preflight (makes ./runs)
    cfg = launch.parse_args(["--processes", "3", "--port", "4242", "--", "--num-envs", "8"])
    cmds = launch.commands(cfg)
    assert len(cmds) == 3
    assert cmds[2][1:] == [
        "-m",
        "ppo.train",
        "--num-envs",
        "8",
        "--coordinator",
        "127.0.0.1:4242",
        "--num-processes",
        "3",
        "--process-id",
        "2",
    ]
    env = launch.child_env(
        launch.parse_args(["--cpu-devices", "2", "--"]), {"JAX_PROCESS_ID": "5", "A": "b"}
    )
    assert "JAX_PROCESS_ID" not in env and env["A"] == "b"
    assert env["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
    for bad in (["--processes", "0"], ["--", "--process-id", "1"]):
        with pytest.raises(SystemExit) as e:
            launch.parse_args(bad)
        assert e.value.code == 2
    assert "leave them out" in capsys.readouterr().err


def test_train_cli__shows_the_multi_process_flags():
    from ppo.config import build_parser

    text = build_parser().format_help()
    for flag in ("--coordinator", "--num-processes", "--process-id", "--peer-timeout-s"):
        assert flag in text


def test_kill_helper_spec_names_window_process_and_signal():
    assert parse_spec("2") == (2, None, signal.SIGKILL)
    assert parse_spec("1@1") == (1, 1, signal.SIGKILL)
    assert parse_spec("0@1:SIGSTOP") == (0, 1, signal.SIGSTOP)


@pytest.mark.slow  # a 2-process profiler run; -m slow runs it
def test_profiler_under_the_launcher__global_and_per_process_figures(tmp_path):
    out = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "ppo.launch", "--processes", "2", "--module", "profiler"]
    cmd += ["--", "--mode", "trainer", "--num-envs", "256", "--rollout-steps", "16"]
    cmd += ["--updates-per-window", "2", "--repeats", "2", "--warmup", "1", "--out", str(out)]
    cmd += ["--set", "hidden=32", "--set", "minibatches=2", "--set", "epochs=1"]
    proc = _run(cmd, _env())
    assert proc.returncode == 0, _fail(proc)
    (run,) = json.loads(out.read_text())["runs"]
    details = run["details"]
    assert details["num_processes"] == 2 and details["process_id"] == 0
    assert run["steps_per_call"] == 256 * 16 * 2  # global: both processes' envs
    procs = details["processes"]
    assert [p["process_id"] for p in procs] == [0, 1]
    assert [p["envs"] for p in procs] == [128, 128]
    # each process's figure is its envs' share of the global rate it measured
    assert procs[0]["steps_per_sec_p50"] == pytest.approx(run["steps_per_sec"]["p50"] / 2)
    assert all(p["steps_per_sec_p50"] > 0 and p["process_cpu_s"] > 0 for p in procs)
    assert run["cpu"]["process_cpu_s"] == pytest.approx(sum(p["process_cpu_s"] for p in procs))
    for i in (0, 1):
        assert f"[p{i}] process {i} on " in proc.stdout, proc.stdout[-3000:]


def test_profiler_launch__measures_one_trainer_mode_only(capsys):
    from profiler import cli

    launch_flags = ["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "0"]
    for mode in (["--mode", "env-only"], ["--mode", "all"], ["--mode", "trainer,trainer+eval"]):
        assert cli.main([*mode, *launch_flags]) == cli.EXIT_USAGE
        assert "a multi-process launch measures one trainer mode" in capsys.readouterr().err
    assert cli.main(["--mode", "trainer", "--coordinator", "127.0.0.1:1"]) == cli.EXIT_USAGE
    assert "--num-processes (or JAX_NUM_PROCESSES)" in capsys.readouterr().err


def test_resume__a_process_that_cannot_see_the_run_dir_says_so(runs, reference, tmp_path):
    """--run-dir must be shared: process 1 pointed at an empty directory stops with one line
    naming the missing run.json (exit 2); process 0 follows within the peer timeout."""
    addr = f"127.0.0.1:{free_port()}"
    base = [sys.executable, "-m", "ppo.train", "--resume", "ref", "--wandb", "disabled"]
    dirs = [runs, tmp_path]  # process 1 sees an empty directory
    procs = [
        subprocess.Popen(
            [*base, "--run-dir", str(dirs[i]), "--coordinator", addr, *_ids(2, i)],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    errs = [p.communicate(timeout=TIMEOUT_S)[1] for p in procs]
    assert procs[1].returncode == 2, errs[1][-3000:]
    line = errs[1].strip().splitlines()[-1]
    assert line.startswith("error: process 1 of 2 on "), errs[1][-3000:]
    assert f"cannot see {tmp_path / 'ref' / 'run.json'}" in line
    assert procs[0].returncode == 1, errs[0][-3000:]
    assert "process 1 of 2 is gone" in errs[0].strip().splitlines()[-1]
    assert records.read_run(reference)["state"] == "finished"  # untouched


def test_launch__output_reader_gone_does_not_hang_the_processes():
    """`python -m ppo.launch ... | head -1`: the launcher's stdout closes early. It used to
    stop reading its processes' pipes then (the pump thread died of BrokenPipeError), so a
    process writing more than a pipe holds blocked for ever and the launch never ended."""
    cmd = [sys.executable, "-m", "ppo.launch", "--processes", "2", "--module"]
    proc = subprocess.Popen(
        [*cmd, "tests.chatty_child", "--"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env=_env(),
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith(b"[p")
        proc.stdout.close()  # the reader goes away with ~8 MB still to come
        assert proc.wait(timeout=300) == 0  # a ceiling only: it exits as soon as they do
    finally:
        proc.kill()
        proc.wait()


def test_launch__a_signal_while_the_processes_start_stops_those_started(monkeypatch, capsys):
    """Ctrl-C after the first of two processes started: the launcher starts no more, stops
    that one and exits 130 with its line (its handlers used to be installed only after all
    had started: a KeyboardInterrupt traceback, the started process left to PR_SET_PDEATHSIG).
    """

    class StartupSignal(Exception):
        pass

    def outside_the_launcher(signum: int, frame: object) -> None:
        raise StartupSignal  # the launcher did not handle it

    started: list[subprocess.Popen[str]] = []
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        signal.raise_signal(signal.SIGINT)
        return started[-1]

    monkeypatch.setattr(launch.subprocess, "Popen", popen_then_ctrl_c)
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    old = signal.signal(signal.SIGINT, outside_the_launcher)
    try:
        cfg = launch.parse_args(["--module", "tests.chatty_child", "--", "wait"])
        assert launch.run(cfg) == 128 + signal.SIGINT
    finally:
        signal.signal(signal.SIGINT, old)
        for proc in started:
            proc.kill()
            proc.wait()
    assert len(started) == 1
    assert started[0].returncode == -signal.SIGTERM
    assert "launch: interrupted by signal 2; stopped all processes" in capsys.readouterr().err


@pytest.mark.slow  # another 2-process training run; -m slow runs it
def test_coordinator_frozen__the_others_stop_within_the_heartbeat_bound(runs, tmp_path):
    """Process 0 freezes (SIGSTOP after window 0, like a hung coordinator host): no socket
    closes, so only JAX's heartbeat (timeout = --peer-timeout-s) tells; process 1 must exit
    non-zero within that bound (plus slack) with our one line and no C++ abort text."""
    peer_timeout = 3
    addr = f"127.0.0.1:{free_port()}"
    base = [sys.executable, "-m", "tests.kill_after_window", "0@0:SIGSTOP", *TRAIN_ARGS]
    base += ["--run-dir", str(runs), "--run-id", "coord-frozen"]
    base += ["--peer-timeout-s", str(peer_timeout), "--coordinator", addr]
    out0 = (tmp_path / "out0").open("w")
    procs = [
        subprocess.Popen(
            [*base, *_ids(2, i)],
            cwd=REPO,
            env=_env(),
            stdout=out0 if i == 0 else subprocess.PIPE,
            stderr=out0 if i == 0 else subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        _, err = procs[1].communicate(timeout=TIMEOUT_S)
        exited = time.time()
        # process 0 is stopped, not dead: it is still there when process 1 has left
        assert procs[0].poll() is None
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    assert procs[1].returncode != 0, err[-3000:]
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines and lines[-1] == coordinator_lost_line(1, 2), err[-3000:]
    assert not any(t in err for t in JAX_ABORT_TEXT), err[-3000:]
    # the bound: window 0's row is written about when process 0 freezes
    (row,) = records.read_windows(runs / "coord-frozen")
    took = exited - datetime.fromisoformat(row["timestamp"]).timestamp()
    assert took < peer_timeout + 45, took
