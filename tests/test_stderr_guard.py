"""ppo.stderr_guard: JAX's C++ abort on a lost coordinator becomes one line of ours.

The rules on lines (pure), and the filter as the process it runs as. The real case (process
0 SIGKILLed under training) is in tests/test_multiprocess.py.
"""

from __future__ import annotations

import subprocess
import sys

from ppo import stderr_guard
from ppo.stderr_guard import Filter, coordinator_lost_line

# What JAX 0.10 writes on process 1 when process 0 is SIGKILLed (abridged).
RUNTIME_WARNING = (
    b"W1130 02:53:55.301516   11156 preemption_sync_manager.cc:147] Failed to retrieve "
    b"preemption notice from coordination service: UNAVAILABLE: Socket closed\n"
)
CONTINUATION = b":UNKNOWN:Error received from peer  {grpc_status:14}\n"
RUNTIME_ERROR = (
    b"E1130 02:54:27.302476   11390 coordination_service_agent.cc:289] Polled an error from "
    b"coordination service (this can be an error from this or another task).\n"
)
ABORT = (
    b"F1130 02:54:27.302512   11390 client.h:80] Terminating process because the JAX "
    b"distributed service detected fatal errors. This most likely indicates ...\n"
)
STACK = [
    b"*** Check failure stack trace: ***\n",
    b"    @     0x7f1bd0040634  absl::log_internal::LogMessage::SendToLog()\n",
]
OURS = (coordinator_lost_line(1, 2) + "\n").encode()


def _run(f: Filter, lines: list[bytes]) -> list[bytes]:
    return [x for line in lines for x in f.feed(line)] + f.flush()


def test_abort_and_the_runtime_records_before_it_become_one_line():
    lines = [b"hello\n", RUNTIME_WARNING, CONTINUATION, RUNTIME_ERROR, ABORT, *STACK]
    assert _run(Filter(1, 2), lines) == [b"hello\n", OURS]
    assert OURS == b"error: process 0 (the coordinator) of 2 is gone; process 1 stops too\n"


def test_without_an_abort_every_line_passes_in_order():
    other = b"W1130 02:54:27.302476   11390 cpu_client.cc:12] something else\n"
    lines = [b"a\n", RUNTIME_WARNING, CONTINUATION, other, b"b\n", RUNTIME_ERROR]
    assert _run(Filter(1, 2), lines) == lines


def test_after_the_processs_own_error_line_the_abort_adds_nothing():
    line = b"error: process 1 of 2 on vm stopped: ValueError: Gloo all-reduce failed\n"
    assert _run(Filter(1, 2), [RUNTIME_WARNING, line, ABORT, *STACK]) == [
        RUNTIME_WARNING,
        line,
    ]


def test_the_filter_process_rewrites_its_input_until_eof():
    """`python ppo/stderr_guard.py 3 4` as install() starts it: input through to its stdout."""
    data = b"".join([b"x\n", RUNTIME_ERROR, ABORT, *STACK])
    out = subprocess.run(
        [sys.executable, stderr_guard.__file__, "3", "4"],
        input=data,
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert out == b"x\n" + (coordinator_lost_line(3, 4) + "\n").encode()


def test_held_runtime_records_wait_at_most_hold_s_even_when_the_process_never_pauses():
    """A non-fatal runtime warning must not hold back a chatty process's output for ever (it
    used to wait for HOLD_S of quiet, so continuous output after one warning stayed held)."""
    f = Filter(1, 2)
    step = stderr_guard.HOLD_S * 0.4
    assert f.feed(RUNTIME_WARNING, now=0.0) == []
    assert f.feed(b"progress 1\n", now=step) == []  # a continuation, as far as it can tell
    assert f.feed(b"progress 2\n", now=2 * step) == []
    assert f.feed(b"progress 3\n", now=3 * step) == [
        RUNTIME_WARNING,
        b"progress 1\n",
        b"progress 2\n",
        b"progress 3\n",
    ]
    assert f.feed(b"progress 4\n", now=4 * step) == [b"progress 4\n"]
    # a runtime record that comes when earlier ones are due starts a hold of its own, so an
    # abort right after it still drops it
    assert f.feed(RUNTIME_WARNING, now=5 * step) == []
    assert f.feed(RUNTIME_ERROR, now=8 * step) == [RUNTIME_WARNING]
    assert f.feed(ABORT, now=8 * step) == [OURS]


def test_a_line_without_its_newline_comes_out_before_the_process_ends():
    """A prompt or a progress bar (no newline) used to wait in the filter until EOF."""
    import os
    import select

    proc = subprocess.Popen(
        [sys.executable, stderr_guard.__file__, "1", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"line\nstep 3/10 ")
        proc.stdin.flush()
        got = b""
        while got != b"line\nstep 3/10 ":
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, f"only {got!r} came out with the writer still open"
            chunk = os.read(proc.stdout.fileno(), 1024)
            assert chunk, "the filter ended early"
            got += chunk
        proc.stdin.write(b"done\n")
        proc.stdin.close()
        assert proc.stdout.read() == b"done\n"
    finally:
        proc.kill()
        proc.wait()


def test_the_filter_process_ignores_modules_next_to_it_and_pythonpath(tmp_path):
    """The filter runs as a script from ppo/: a module there named like one of the standard
    library's (say a future ppo/signal.py) used to replace it in the filter, which then died
    and took the process's stderr with it."""
    import shutil

    script = tmp_path / "stderr_guard.py"
    shutil.copy(stderr_guard.__file__, script)
    for name in ("signal", "select", "re"):
        (tmp_path / f"{name}.py").write_text("raise SystemExit('shadowed')\n")
    env = {"PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        stderr_guard.filter_command(1, 2, str(script)),
        input=b"x\n" + ABORT,
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert (out.returncode, out.stdout) == (0, b"x\n" + OURS), out.stderr
