"""ppo.ready: waiting for a computation in Python, and telling a wedged CPU runtime from a
long window by the process's CPU time (fake clocks: no real waiting)."""

from __future__ import annotations

import time

import jax.numpy as jnp
import pytest

from ppo.ready import RuntimeStalled, poll_until, wait_ready


class FakeTime:
    """A wall clock moved by `sleep`, and a CPU clock that runs at `cores` per wall second."""

    def __init__(self, cores: float, ready_at: float = float("inf")) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.cores = cores
        self.ready_at = ready_at
        self.jumps: dict[float, float] = {}  # at wall time t, the next sleep lasts this long

    def sleep(self, s: float) -> None:
        for t, extra in list(self.jumps.items()):
            if self.wall >= t:
                s += extra  # the process was stopped: no CPU time passes
                del self.jumps[t]
                self.wall += s
                return
        self.wall += s
        self.cpu += self.cores * s

    def poll(self, stall_s: float) -> None:
        poll_until(
            lambda: self.wall >= self.ready_at,
            0.02,
            stall_s,
            cpu_clock=lambda: self.cpu,
            wall_clock=lambda: self.wall,
            sleep=self.sleep,
        )


def test_a_wedged_runtime__is_reported_after_stall_s_of_no_cpu() -> None:
    t = FakeTime(cores=0.0)  # XLA's threads parked
    with pytest.raises(RuntimeStalled, match="no CPU progress for 30 s"):
        t.poll(stall_s=30.0)
    assert 30.0 <= t.wall < 30.1  # judged at the end of the first stretch


def test_a_long_busy_window__is_waited_for() -> None:
    t = FakeTime(cores=1.9, ready_at=600.0)  # ten minutes of two busy cores
    t.poll(stall_s=30.0)
    assert t.wall >= 600.0


def test_a_starved_but_running_process__is_not_a_stall() -> None:
    # nice 19 next to one busy nice 0 job: 15 / (15 + 1024) of the core
    t = FakeTime(cores=0.0144, ready_at=300.0)
    t.poll(stall_s=30.0)


def test_a_stopped_process__starts_the_count_again() -> None:
    # 25 s idle, then SIGSTOP for an hour, then 25 s idle: never 30 s idle while running.
    t = FakeTime(cores=0.0, ready_at=3650.0 + 50.0)
    t.jumps[25.0] = 3600.0
    with pytest.raises(RuntimeStalled):
        t.poll(stall_s=30.0)
    assert t.wall >= 3625.0 + 29.9  # the hour did not count
    t2 = FakeTime(cores=0.0, ready_at=3600.0 + 45.0)
    t2.jumps[20.0] = 3600.0
    t2.poll(stall_s=30.0)  # 20 s + 25 s idle around the stop: never 30 s in a row


def test_stall_s_zero__waits_forever_without_judging() -> None:
    t = FakeTime(cores=0.0, ready_at=10_000.0)
    t.poll(stall_s=0.0)
    assert t.wall >= 10_000.0


def test_wait_ready__returns_the_tree_when_ready() -> None:
    x = jnp.arange(4.0) * 2
    out = wait_ready({"a": x, "b": 3}, stall_s=5.0)
    assert out["b"] == 3 and float(out["a"][3]) == 6.0


def test_stall_limit__judged_for_a_single_cpu_process_only() -> None:
    import jax

    from ppo.ready import stall_limit

    assert jax.default_backend() == "cpu"  # the test box; on a GPU the host idles by design
    assert stall_limit(120.0, multiprocess=False) == 120.0
    assert stall_limit(0.0, multiprocess=False) == 0.0
    # a process waiting in a collective for a slower peer idles by design
    assert stall_limit(120.0, multiprocess=True) == 0.0


def test_the_default_clock__counts_other_threads_not_the_waiting_one() -> None:
    import threading

    from ppo.ready import other_threads_cpu_s

    c0 = other_threads_cpu_s()
    end = time.thread_time() + 0.2
    while time.thread_time() < end:  # this thread busy: not counted
        pass
    assert other_threads_cpu_s() - c0 < 0.1

    def spin() -> None:
        stop = time.thread_time() + 0.2
        while time.thread_time() < stop:
            pass

    c0 = other_threads_cpu_s()
    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    assert other_threads_cpu_s() - c0 >= 0.15  # another thread busy: counted


def test_stall_s__is_a_process_option_not_stored_with_the_run() -> None:
    from ppo.config import parse_command

    cfg, opts = parse_command(["--stall-s", "60", "--resume", "some-run"])
    assert opts.stall_s == 60.0
    assert "stall_s" not in cfg.to_json()  # so --resume never refuses it as a run field
    assert parse_command([])[1].stall_s == 120.0
