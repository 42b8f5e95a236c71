"""Waiting for a dispatched JAX computation in Python, with a stall detector for the CPU.

XLA's CPU runtime can wedge: every worker thread parks on a condition variable and the
computation never completes (seen with `--num-seeds 3` on 2 cores, from a batched LAPACK
call that waited on its own thread pool; fixed in ppo.window.init_runner, docs/TRAINING.md
"A wedged run"). A CPU computation that runs uses CPU time on XLA's threads, so a wait
during which they accrue almost none is a wedge, not a long window. This turns any such
wedge into an error instead of a run that waits forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax

# Judged on the CPU time of every thread but the waiting one: a running window keeps XLA's
# threads on >= 1 core, a wedged one leaves them parked (0 CPU-s). 0.2 % of one core still
# counts as progress, so a process starved by other jobs (a nice 19 process next to one
# busy nice 0 job gets ~1.4 % of the core) is not judged stalled.
MIN_CPU_FRACTION = 0.002


def other_threads_cpu_s() -> float:
    """CPU seconds used so far by every thread of this process but the calling one."""
    return time.process_time() - time.thread_time()


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
    cpu_clock: Callable[[], float] = other_threads_cpu_s,
    wall_clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Sleep (1 ms, doubling to `poll_s` s) until `ready()`.

    stall_s > 0: the wait is judged in consecutive stretches of `stall_s` wall seconds;
    RuntimeStalled is raised at the end of one in which the other threads of the process
    (`cpu_clock`: XLA's workers) used under MIN_CPU_FRACTION of one core, so a wedge is reported
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


def stall_limit(configured_s: float, multiprocess: bool) -> float:
    """The stall limit for this process: `configured_s` for a single process on the CPU
    backend; 0 (never judged) on an accelerator, where the host idles while the device
    computes, and in a multi-process launch, where a process idles in a collective while a
    slower peer catches up (a peer that is gone has its own watchdog, ppo.distributed)."""
    return configured_s if jax.default_backend() == "cpu" and not multiprocess else 0.0
