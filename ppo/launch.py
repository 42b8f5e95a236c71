"""`python -m ppo.launch --processes N -- <args>`: N processes of one launch on this machine.

For trying the multi-process path on one box (docs/SCALING.md): starts N copies of
`python -m <module> <args> --coordinator 127.0.0.1:PORT --num-processes N --process-id I`
on loopback (a free port unless --port) and streams each one's output line by line
prefixed with `[pI]`. When one exits non-zero it stops the others: they get --grace-s to
notice and stop on their own (so process 0 can mark the run crashed; ppo.distributed bounds
that by --peer-timeout-s), then SIGTERM, then SIGKILL 5 s later. Exits 0 when all exit 0,
else with the first failing process's code (1 when it died of a signal) and one line naming
it. On a real cluster, start one process per host yourself (or with SLURM / Kubernetes)
instead; see docs/SCALING.md.

The processes never outlive the launcher. Each runs in its own process group (Ctrl-C in a
terminal reaches only the launcher, which stops them with SIGTERM as above), and on Linux
asks the kernel for SIGTERM when the launcher dies, however it dies, SIGKILL included
(`prctl(PR_SET_PDEATHSIG)`, set in the child between fork and exec; exec keeps it). That
signal is tied to the thread that forked, so the processes are started from the launcher's
main thread, which lives until the end, before any other thread of the launcher starts.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from envjax.argparser import OneLineParser

SIGKILL_AFTER_S = 5.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class LaunchConfig:
    """The launcher's own flags; `args` is everything after `--`."""

    processes: int
    module: str
    port: int
    grace_s: float
    cpu_devices: int
    args: tuple[str, ...]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (another program may take it before process 0 does)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m ppo.launch",
        description=(
            "Run N processes of one multi-process launch on this machine over loopback, "
            "e.g. python -m ppo.launch --processes 2 -- --num-envs 256 --wandb disabled"
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--processes", type=int, default=2, help="processes to start")
    p.add_argument(
        "--module",
        default="ppo.train",
        help="module to run; it must take --coordinator/--num-processes/--process-id "
        "(ppo.train, profiler)",
    )
    p.add_argument("--port", type=int, default=0, help="coordinator port (0: a free one)")
    p.add_argument(
        "--grace-s",
        type=float,
        default=15.0,
        help="after one process fails, seconds the others get to stop on their own "
        "before SIGTERM (SIGKILL 5 s later)",
    )
    p.add_argument(
        "--cpu-devices",
        type=int,
        default=0,
        help="CPU devices per process (XLA_FLAGS=--xla_force_host_platform_device_count; "
        "0: leave XLA_FLAGS alone)",
    )
    p.add_argument("args", nargs=argparse.REMAINDER, help="-- then the module's arguments")
    return p


MAX_PROCESSES = 256  # one box: each process is a whole JAX runtime (hundreds of MB)
MAX_CPU_DEVICES = 1024
MAX_GRACE_S = 3600.0


def parse_args(argv: Sequence[str] | None) -> LaunchConfig:
    """Parse and check the launcher's command line; exits 2 with one line when bad.

    The module's own arguments are checked here too (ppo.train: its whole preflight, in a
    second, without jax), so a bad flag after `--` is refused once, before N processes start.
    """
    p = build_parser()
    ns = p.parse_args(argv)
    args = list(ns.args)
    if args and args[0] == "--":
        args = args[1:]
    errs = []
    if not 1 <= ns.processes <= MAX_PROCESSES:
        errs.append(f"--processes must be in [1, {MAX_PROCESSES}] (got {ns.processes})")
    if not 0 <= ns.port < 65536:
        errs.append(f"--port must be in 0..65535 (got {ns.port})")
    if not (math.isfinite(ns.grace_s) and 0 <= ns.grace_s <= MAX_GRACE_S):
        errs.append(f"--grace-s must be a finite number in [0, {MAX_GRACE_S:g}] (got {ns.grace_s})")
    if not 0 <= ns.cpu_devices <= MAX_CPU_DEVICES:
        errs.append(f"--cpu-devices must be in [0, {MAX_CPU_DEVICES}] (got {ns.cpu_devices})")
    if not _importable(ns.module):
        errs.append(f"--module {ns.module!r} is not an importable module")
    given = [
        a for a in args if a.split("=")[0] in ("--coordinator", "--num-processes", "--process-id")
    ]
    if given:
        errs.append(f"the launcher sets {', '.join(given)} itself; leave them out")
    if errs:
        p.error("; ".join(errs))
    if ns.module == "ppo.train":
        _check_train_args(args)
    return LaunchConfig(
        ns.processes, ns.module, ns.port or free_port(), ns.grace_s, ns.cpu_devices, tuple(args)
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, an empty or relative name
        return False


def _check_train_args(args: list[str]) -> None:
    """ppo.train's preflight on `args` as a single process would run it; exit 2 with its
    one line when it fails (an unparsable value exits 2 inside)."""
    from ppo.config import ConfigError
    from ppo.preflight import preflight
    from ppo.runlock import RunLocked

    try:
        preflight(args)
    except (ConfigError, RunLocked, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def commands(cfg: LaunchConfig) -> list[list[str]]:
    """The command line of each process (pure)."""
    addr = f"127.0.0.1:{cfg.port}"
    return [
        [
            sys.executable,
            "-m",
            cfg.module,
            *cfg.args,
            "--coordinator",
            addr,
            "--num-processes",
            str(cfg.processes),
            "--process-id",
            str(i),
        ]
        for i in range(cfg.processes)
    ]


def child_env(cfg: LaunchConfig, base: dict[str, str]) -> dict[str, str]:
    """Children's environment: unbuffered output, no inherited JAX_* process settings."""
    env = {
        k: v
        for k, v in base.items()
        if k not in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
    }
    env["PYTHONUNBUFFERED"] = "1"
    if cfg.cpu_devices:
        flag = f"--xla_force_host_platform_device_count={cfg.cpu_devices}"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    return env


def _pump(prefix: str, src: IO[str], dst: IO[str], lock: threading.Lock) -> None:
    """Copy `src`'s lines to `dst` with `prefix` until EOF.

    When `dst` fails (the reader of a pipe went away, e.g. `| head`), the rest is read and
    dropped: a process blocked on a full pipe would never exit and the launch would hang.
    """
    for line in src:
        with lock:
            try:
                dst.write(f"{prefix} {line}" if line.endswith("\n") else f"{prefix} {line}\n")
                dst.flush()
            except (OSError, ValueError):  # BrokenPipeError; ValueError: dst closed
                break
    for _ in src:  # keep the process's pipe drained until it exits
        pass


def _wait_all(procs: list[subprocess.Popen[str]], timeout_s: float | None) -> bool:
    """Wait until every process has exited or `timeout_s` passed; True when all exited."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    for proc in procs:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            return False
    return True


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` making the child get `sig` when this process dies (Linux); None where
    prctl is missing. The child also leaves at once if this process died before prctl ran."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def run(cfg: LaunchConfig) -> int:
    """Start the processes, stream their output, stop all when one fails; the exit code."""
    env = child_env(cfg, dict(os.environ))
    lock = threading.Lock()
    procs: list[subprocess.Popen[str]] = []
    pumps: list[threading.Thread] = []
    done = threading.Condition()
    finished: list[tuple[int, int]] = []  # (process index, return code) in exit order

    def wait(i: int, proc: subprocess.Popen[str]) -> None:
        rc = proc.wait()
        with done:
            finished.append((i, rc))
            done.notify_all()

    def stop_all(signum: int) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    interrupted: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        interrupted.append(signum)
        stop_all(signal.SIGTERM)
        with done:
            done.notify_all()

    # Before the first process starts: a Ctrl-C or SIGTERM while they start stops the ones
    # already running (below) instead of leaving the launcher with a traceback.
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def start_all() -> None:
        preexec = die_with_parent()
        # All processes first, from this (main) thread and before any other thread exists:
        # preexec_fn runs between fork and exec; PR_SET_PDEATHSIG follows the forking thread.
        for cmd in commands(cfg):
            if interrupted:
                break  # the ones started still get their output streamed, then stop
            procs.append(
                subprocess.Popen(
                    cmd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    errors="replace",  # a stray non-UTF-8 byte must not stop the streaming
                    bufsize=1,
                    process_group=0,  # Ctrl-C reaches the launcher only: it stops them
                    preexec_fn=preexec,
                )
            )
        for i, proc in enumerate(procs):
            assert proc.stdout is not None
            args = (f"[p{i}]", proc.stdout, sys.stdout, lock)
            t = threading.Thread(target=_pump, args=args)
            t.start()
            pumps.append(t)
            threading.Thread(target=wait, args=(i, proc), daemon=True).start()

    failure: tuple[int, int] | None = None
    try:
        try:
            start_all()
        except BaseException:  # e.g. the OS refused a process: none may outlive us
            stop_all(signal.SIGKILL)
            raise
        with done:
            while len(finished) < len(procs):
                bad = [(i, rc) for i, rc in finished if rc != 0]
                if bad or interrupted:
                    failure = bad[0] if bad else None
                    break
                done.wait()
        if failure is not None or interrupted:
            # The peers of a failed process notice on their own within the peer timeout and
            # leave cleanly (run marked crashed); SIGTERM is for the stuck, SIGKILL certain.
            if not interrupted:
                _wait_all(procs, cfg.grace_s)
            stop_all(signal.SIGTERM)
            if not _wait_all(procs, SIGKILL_AFTER_S):
                stop_all(signal.SIGKILL)
                _wait_all(procs, None)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for t in pumps:
            t.join()
    if interrupted:
        print(
            f"launch: interrupted by signal {interrupted[0]}; stopped all processes",
            file=sys.stderr,
            flush=True,
        )
        return 128 + interrupted[0]
    if failure is not None:
        i, rc = failure
        how = f"was killed by signal {-rc}" if rc < 0 else f"exited with {rc}"
        print(
            f"launch: process {i} of {cfg.processes} {how}; stopped the others",
            file=sys.stderr,
            flush=True,
        )
        return rc if rc > 0 else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: 0 when every process exits 0."""
    cfg = parse_args(argv)
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
