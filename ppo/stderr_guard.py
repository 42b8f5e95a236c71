"""One line of ours, not JAX's C++ abort, when a process loses the coordinator (process 0).

Why a filter process: process 0 hosts JAX's coordination service. When it dies, every
other process's coordination agent (jax 0.10) sees the closed connection at once from a C++
thread and aborts the process there: `F... client.h:80] Terminating process because the JAX
distributed service detected fatal errors ...` followed by a C++ stack trace. Nothing in
Python runs first: the agent's own error poll wins any race with a Python thread, and the
hook JAX offers for it (`missed_heartbeat_callback` of the runtime client) cannot take a
Python callable in this jaxlib (the call fails with `std::bad_cast` and terminates). So a
process other than 0 sends its stderr (fd 2) through this small filter, a separate process
that lives until the last writer is gone. It passes every line through unchanged, except:

- records of JAX's distributed runtime (`coordination_service_agent.cc`,
  `preemption_sync_manager.cc`, ...), with their continuation lines, are held back for
  `HOLD_S` from the first of them (however much else the process writes meanwhile); if JAX's
  abort follows within that time they are dropped, else written as they were;
- a line without its newline yet (a prompt, a progress bar) is written as it is after
  `HOLD_S` of quiet, so nothing waits for a newline that may never come;
- JAX's abort line and everything after it (the stack trace) are replaced by one line,
  `error: process 0 (the coordinator) of N is gone; process I stops too`, unless the
  process already printed its own `error:` line (then nothing is added).

The process still ends by JAX's abort (SIGABRT, exit status 134 in a shell). Run as
`python -I ppo/stderr_guard.py PROCESS_ID NUM_PROCESSES` with the real stderr as stdout; only
the standard library is imported (it starts in a few tens of milliseconds).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time

HOLD_S = 1.0  # how long a runtime record waits for an abort that would make it noise
JAX_ABORT = b"Terminating process because the JAX distributed service detected fatal errors"
# The C++ sources of JAX's distributed runtime whose records precede its abort.
RUNTIME_SOURCES = frozenset(
    {
        b"coordination_service_agent.cc",
        b"coordination_service.cc",
        b"preemption_sync_manager.cc",
        b"client.h",
        b"client.cc",
    }
)
_RECORD = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ([^:\s]+):\d+\] ")


def coordinator_lost_line(process_id: int, num_processes: int) -> str:
    """The one line a process other than 0 prints when process 0 is gone."""
    return (
        f"error: process 0 (the coordinator) of {num_processes} is gone; "
        f"process {process_id} stops too"
    )


class Filter:
    """The filter's rules on whole lines (bytes, each ending with b"\\n" but the last).

    `feed` returns the lines to write now; `due` returns the held ones once the first of them
    is HOLD_S old (times in seconds, any monotonic clock); `flush` (at the end) returns them.
    """

    def __init__(self, process_id: int, num_processes: int) -> None:
        self._line = (coordinator_lost_line(process_id, num_processes) + "\n").encode()
        self._held: list[bytes] = []
        self._holding = False  # inside a held runtime record (its continuation lines)
        self._ours = False  # the process printed its own "error:" line
        self._aborted = False
        self._since = 0.0  # when the first held line came

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def deadline(self) -> float | None:
        """When the held lines are due (None: nothing held)."""
        return self._since + HOLD_S if self._held else None

    def due(self, now: float) -> list[bytes]:
        """The held lines if they are due at `now`, else nothing."""
        deadline = self.deadline()
        return self.flush() if deadline is not None and now >= deadline else []

    def feed(self, line: bytes, now: float = 0.0) -> list[bytes]:
        if self._aborted:
            return []  # the abort's stack trace
        if JAX_ABORT in line:
            self._aborted, self._held = True, []
            return [] if self._ours else [self._line]
        record = _RECORD.match(line)
        if record is not None:
            self._holding = os.path.basename(record.group(1)) in RUNTIME_SOURCES
        elif line.startswith(b"error: "):
            self._holding, self._ours = False, True
        if self._holding:
            # Held lines wait at most HOLD_S in all: a process that never pauses must not
            # hold its output back for ever. A new runtime record starts a new hold.
            out = self.due(now)
            if out and record is None:  # a continuation goes out with its record
                return [*out, line]
            if not self._held:
                self._since = now
            self._holding = True
            self._held.append(line)
            return out
        return [*self.flush(), line]

    def flush(self) -> list[bytes]:
        out, self._held, self._holding = self._held, [], False
        return out


def filter_command(process_id: int, num_processes: int, script: str = __file__) -> list[str]:
    """The filter's command line: this file as a script, in isolated mode (`-I`): neither
    the script's directory (ppo/, whose modules could shadow the standard library's) nor
    PYTHON* variables reach its sys.path."""
    return [sys.executable, "-I", os.path.abspath(script), str(process_id), str(num_processes)]


def install(process_id: int, num_processes: int) -> None:
    """Route this process's fd 2 through the filter (see the module doc). POSIX only.

    Python's `sys.stderr` writes to fd 2, so its lines go through too; so do those of child
    processes started afterwards (they inherit fd 2).
    """
    read_end, write_end = os.pipe()
    try:
        subprocess.Popen(
            filter_command(process_id, num_processes),
            stdin=read_end,
            stdout=2,  # the real stderr, before it is replaced below
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    finally:
        os.close(read_end)
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)


def _write(data: list[bytes]) -> None:
    # If stderr is gone, keep reading anyway: the process must never block on its writes.
    with contextlib.suppress(OSError):
        view = memoryview(b"".join(data))
        while view:
            view = view[os.write(1, view) :]


def main(argv: list[str]) -> None:
    # Ctrl-C reaches the whole process group; the filter must outlive the process's last line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    rules = Filter(int(argv[0]), int(argv[1]))
    partial = b""
    while True:
        deadline = rules.deadline()
        if deadline is not None:
            timeout: float | None = max(0.0, deadline - time.monotonic())
        else:
            timeout = HOLD_S if partial else None
        ready, _, _ = select.select([0], [], [], timeout)
        now = time.monotonic()
        if not ready:
            out = rules.due(now)
            if partial and not rules.holding:  # quiet: the unfinished line goes out as is
                out, partial = [*out, partial], b""
            _write(out)
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            break
        *lines, partial = (partial + chunk).split(b"\n")
        out = [x for line in lines for x in rules.feed(line + b"\n", now)]
        out += rules.due(now)
        if out:
            _write(out)
    _write([*(rules.feed(partial) if partial else []), *rules.flush()])


if __name__ == "__main__":
    main(sys.argv[1:])
