"""Timers around the parts of `ppo.train`'s loop, installed for one profiled training run.

ppo.train has no timing hooks, so the probe wraps the module-level names its loop looks up
(`make_window_fn`, `make_eval_fn`, `_host`, `checkpoint.save/prune`,
`RunWriter.append_window`) and restores them afterwards. Each wrapper blocks on the device
result it times; the loop blocks on those results right after anyway (it pulls them to the
host), so the probe adds no synchronisation the trainer does not already do.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from profiler.stats import process_cpu_seconds

PHASES = ("window", "host_fetch", "eval", "records", "checkpoint")


@dataclass
class Cycle:
    """One window's cycle: from its compiled call to the next window's (or the loop's end)."""

    start: float
    cpu_start: float
    seconds: float = 0.0
    cpu_s: float = 0.0
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))


class TrainProbe:
    """Collects per-window cycles and phase times from one `ppo.train.train` call."""

    def __init__(self, checkpoints: bool, progress: Callable[[str], None]) -> None:
        self.checkpoints = checkpoints
        self.progress = progress
        self.compile_s: float | None = None
        self.layer_shapes: list[list[int]] = []
        self.eval_steps = 0
        self.eval_compile_s: float | None = None
        self._cycles: list[Cycle] = []
        self._end: tuple[float, float] | None = None

    # -- results --
    def cycles(self) -> list[Cycle]:
        """Closed cycles; the last one ends where the training loop returned."""
        out = list(self._cycles)
        if out and self._end is not None:
            last = out[-1]
            last.seconds = self._end[0] - last.start
            last.cpu_s = self._end[1] - last.cpu_start
        return out

    @staticmethod
    def phase_medians(cycles: list[Cycle]) -> dict[str, float]:
        """Median seconds per phase over `cycles`, plus `other` (the rest of the cycle)."""
        med = {p: median(c.phases[p] for c in cycles) for p in PHASES}
        med["other"] = median(c.seconds - sum(c.phases.values()) for c in cycles)
        med["cycle"] = median(c.seconds for c in cycles)
        return med

    def _add(self, phase: str, seconds: float) -> None:
        if self._cycles:
            self._cycles[-1].phases[phase] += seconds

    # -- wrappers --
    def _wrap_window_fn(self, make_window_fn: Callable) -> Callable:
        def make(*args, **kwargs):
            return _JitProxy(
                make_window_fn(*args, **kwargs), self._window_compiled, self._timed_window
            )

        return make

    def _window_compiled(self, seconds: float) -> None:
        self.compile_s = seconds
        self.progress(f"window lowered and compiled in {seconds:.1f} s")

    def _eval_compiled(self, seconds: float) -> None:
        self.eval_compile_s = seconds

    def _timed_window(self, compiled: Callable) -> Callable:
        import jax

        from profiler.modes.trainer import dense_layers

        def call(runner):
            now, cpu = time.perf_counter(), process_cpu_seconds()
            if self._cycles:
                prev = self._cycles[-1]
                prev.seconds, prev.cpu_s = now - prev.start, cpu - prev.cpu_start
                self.progress(f"window {len(self._cycles) - 1}: {prev.seconds:.2f} s")
            if not self.layer_shapes:
                self.layer_shapes = dense_layers(runner.params)
            self._cycles.append(Cycle(start=now, cpu_start=cpu))
            out = compiled(runner)
            jax.block_until_ready(out)
            self._add("window", time.perf_counter() - now)
            return out

        return call

    def _timed_eval(self, fn: Callable) -> Callable:
        import jax

        def timed(*a, **k):
            t0 = time.perf_counter()
            out = jax.block_until_ready(fn(*a, **k))
            self._add("eval", time.perf_counter() - t0)
            return out

        return timed

    def _wrap_eval_fn(self, make_eval_fn: Callable) -> Callable:
        def make(*args, **kwargs):
            # Greedy and sampled halves, each n_episodes envs for max_steps days.
            n_episodes = kwargs.get("n_episodes", args[3] if len(args) > 3 else 0)
            max_steps = kwargs.get("max_steps", args[5] if len(args) > 5 else 0)
            self.eval_steps = 2 * int(n_episodes) * int(max_steps)
            return _JitProxy(make_eval_fn(*args, **kwargs), self._eval_compiled, self._timed_eval)

        return make

    def _timed(self, phase: str, fn: Callable) -> Callable:
        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self._add(phase, time.perf_counter() - t0)

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[TrainProbe]:
        """Patch ppo.train's loop for the duration of the block; always restores."""
        from ppo import checkpoint, records
        from ppo import train as ppo_train

        patches = [
            (ppo_train, "make_window_fn", self._wrap_window_fn(ppo_train.make_window_fn)),
            (ppo_train, "make_eval_fn", self._wrap_eval_fn(ppo_train.make_eval_fn)),
            (ppo_train, "_host", self._timed("host_fetch", ppo_train._host)),
            (
                records.RunWriter,
                "append_window",
                self._timed("records", records.RunWriter.append_window),
            ),
        ]
        if self.checkpoints:
            patches += [
                (checkpoint, "save", self._timed("checkpoint", checkpoint.save)),
                (checkpoint, "prune", self._timed("checkpoint", checkpoint.prune)),
            ]
        else:
            patches += [
                (checkpoint, "save", lambda run_dir, window_id, *a, **k: run_dir),
                (checkpoint, "prune", lambda *a, **k: None),
            ]
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        try:
            for obj, name, new in patches:
                setattr(obj, name, new)
            yield self
            self._end = (time.perf_counter(), process_cpu_seconds())
        finally:
            for obj, name, old in saved:
                setattr(obj, name, old)


class _JitProxy:
    """Stands in for a jitted function: times `.lower().compile()` and wraps what it calls."""

    def __init__(
        self,
        jitted: Any,  # a jax.jit-wrapped function (it has .lower)
        on_compiled: Callable[[float], None],
        wrap: Callable[[Callable], Callable],
    ) -> None:
        self._jitted, self._on_compiled, self._wrap = jitted, on_compiled, wrap

    def lower(self, *args, **kwargs) -> _LoweredProxy:
        t0 = time.perf_counter()
        lowered = self._jitted.lower(*args, **kwargs)
        return _LoweredProxy(lowered, time.perf_counter() - t0, self)

    def __call__(self, *args, **kwargs):
        return self._wrap(self._jitted)(*args, **kwargs)


class _LoweredProxy:
    def __init__(self, lowered, lower_s: float, owner: _JitProxy) -> None:
        self._lowered, self._lower_s, self._owner = lowered, lower_s, owner

    def compile(self) -> Callable:
        t0 = time.perf_counter()
        compiled = self._lowered.compile()
        self._owner._on_compiled(self._lower_s + time.perf_counter() - t0)
        return self._owner._wrap(compiled)
