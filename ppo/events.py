"""What `ppo.train.train` tells an outside caller, and the checkpoint policy it follows.

`train(cfg, progress_fn=..., checkpoint_every=..., stop_fn=...)` is the trainer's public
seam (docs/INTERFACES.md section 4), modelled on Brax's `progress_fn`: the profiler, the
kill/resume tests and any driver read the trainer's own figures through these events
instead of wrapping its internals.

- `Compiled` is emitted once per program, right after it is lowered and compiled.
- `WindowDone` is emitted after a window's records (windows.jsonl, updates.jsonl, eval file,
  run.json) and its checkpoint, when it has one, are durable on disk: a caller may SIGKILL
  the process from `progress_fn` and a `--resume` continues from that window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ppo.metrics import PHASE_KEYS


@dataclass(frozen=True)
class Compiled:
    """A program was lowered and compiled: `seconds` of wall time for both."""

    program: Literal["window", "eval"]
    seconds: float


@dataclass(frozen=True)
class Phases:
    """Wall seconds of one window's host-loop phases (all seeds of the launch together).

    compute_s: the compiled window call until its outputs are ready on the device.
    fetch_s: pulling the window's statistics (and, when it is checkpointed, the runner
      state) to the host.
    eval_s: the evaluation program and the fetch of its results (0 when eval is off).
    records_s: eval files, updates.jsonl, windows.jsonl, W&B logging, run.json and the
      progress line.
    checkpoint_s: writing and pruning checkpoints (0 when the window has none).
    """

    compute_s: float = 0.0
    fetch_s: float = 0.0
    eval_s: float = 0.0
    records_s: float = 0.0
    checkpoint_s: float = 0.0

    def total(self) -> float:
        """Sum of the phases, seconds."""
        return sum(dataclasses.astuple(self))

    def row(self, previous: Phases | None) -> dict[str, float | None]:
        """The windows.jsonl timing keys of this window.

        records_s and checkpoint_s end after the row is written, so a row carries the
        previous window's (`previous`, None in the first window a process runs).
        """
        values = (
            self.compute_s,
            self.fetch_s,
            self.eval_s,
            previous.records_s if previous else None,
            previous.checkpoint_s if previous else None,
        )
        return dict(zip(PHASE_KEYS, values, strict=True))


@dataclass(frozen=True)
class WindowDone:
    """A window's records (and checkpoint, when `checkpointed`) are durable.

    rows: one windows.jsonl row per seed of the launch, exactly as written (empty on
      processes other than process 0 of a multi-process launch).
    phases: this window's phase timings (all seeds together).
    seconds: wall time from the start of the window's compiled call to this event.
    cpu_s: CPU seconds (user + system, all threads) this process spent in that time.
    """

    window_id: int
    rows: tuple[dict[str, Any], ...]
    phases: Phases
    seconds: float
    cpu_s: float
    checkpointed: bool


Event = Compiled | WindowDone
ProgressFn = Callable[[Event], None]
StopFn = Callable[[WindowDone], bool]


def checkpoint_policy(every: int | None) -> int:
    """`checkpoint_every` as an int: 0 (off) for None; ValueError when negative."""
    if every is None:
        return 0
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"checkpoint_every must be an int >= 0 or None (got {every!r})")
    return every


def checkpoint_due(window_id: int, every: int, final: bool) -> bool:
    """Whether window `window_id` is checkpointed under `every` (0: never).

    Every `every`-th window (window ids every-1, 2*every-1, ...) and, when checkpoints are
    on, the final window of the run, so a finished run can always be loaded or extended.
    """
    if every <= 0:
        return False
    return final or (window_id + 1) % every == 0
