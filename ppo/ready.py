"""Waiting for a dispatched JAX computation in Python, with a stall detector for the CPU.

XLA's CPU runtime can wedge: every worker thread parks on its Eigen pool's condition
variable and the computation never completes (seen intermittently with `--num-seeds 3`,
vmapped windows, before the first window ends; docs/TRAINING.md "A wedged run"). A CPU
computation that runs uses CPU time, so a wait during which the process accrues almost none
is a wedge, not a long window. Waiting on another backend (the host is idle while a GPU
works) is never judged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax

# A running window keeps >= 1 core busy; the polling thread alone uses ~0.3 % of one.
# Progress means at least this fraction of one core over the window of the check.
MIN_CPU_FRACTION = 0.02


class RuntimeStalled(RuntimeError):
    """The computation made no CPU progress for `stall_s` seconds: the runtime is wedged and
    nothing in-process can cancel it; the run must be restarted (it resumes from its last
    checkpoint)."""


def wait_ready(tree: Any, poll_s: float = 0.02, stall_s: float = 0.0) -> Any:
    """`jax.block_until_ready(tree)`, waiting in Python: the array leaves' `is_ready()` is
    polled (1 ms, doubling to `poll_s` seconds), so signal handlers run during a long call.

    A main thread blocked inside the runtime runs no Python signal handler: SIGTERM or
    Ctrl-C would wait for the whole window, and forever if the runtime never finishes.
    stall_s > 0: RuntimeStalled as `poll_until` says; pass 0 where the host idles while a
    device computes (`stall_limit`).
    """
    leaves: list[Any] = [x for x in jax.tree.leaves(tree) if isinstance(x, jax.Array)]
    poll_until(lambda: all(x.is_ready() for x in leaves), poll_s, stall_s)
    return jax.block_until_ready(tree)


def poll_until(
    ready: Callable[[], bool],
    poll_s: float,
    stall_s: float,
    *,
    cpu_clock: Callable[[], float] = time.process_time,
    wall_clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Sleep (1 ms, doubling to `poll_s` s) until `ready()`.

    stall_s > 0: the wait is judged in consecutive stretches of `stall_s` wall seconds;
    RuntimeStalled is raised at the end of one in which the process used under
    MIN_CPU_FRACTION of one core (process CPU time, all threads), so a wedge is reported
    between stall_s and 2 stall_s after it began. A poll that overslept by more than
    max(10 poll_s, 1 s) (the process was stopped, or the machine suspended) starts a new
    stretch.
    """
    delay = 0.001
    wall0 = last = wall_clock()
    cpu0 = cpu_clock()
    while not ready():
        sleep(delay)
        delay = min(2 * delay, poll_s)
        if stall_s <= 0:
            continue
        now, cpu = wall_clock(), cpu_clock()
        if now - last > max(10 * poll_s, 1.0):
            wall0, cpu0 = now, cpu  # overslept: count again from here
        elif now - wall0 >= stall_s:
            if cpu - cpu0 < MIN_CPU_FRACTION * (now - wall0):
                raise RuntimeStalled(
                    f"the XLA runtime made no CPU progress for {now - wall0:.0f} s "
                    f"({cpu - cpu0:.2f} CPU-s used): a wedged computation"
                )
            wall0, cpu0 = now, cpu  # a busy stretch: judge the next one
        last = now


def stall_limit(configured_s: float) -> float:
    """The stall limit for this process's backend: `configured_s` on the CPU, 0 (never)
    elsewhere, where the host idles while the device computes."""
    return configured_s if jax.default_backend() == "cpu" else 0.0
