"""Per-window cycles and phase times of one `ppo.train.train` call, read from its events.

The probe is the `progress_fn` the profiler passes to `ppo.train.train` (ppo.events): the
trainer times its own phases and reports them with each window, so the profiler, the tests
and the run records all hold the same figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median

from ppo.events import Compiled, Event, WindowDone

# Report phase name -> ppo.events.Phases field (the report's names predate the seam).
PHASE_FIELDS = {
    "window": "compute_s",
    "host_fetch": "fetch_s",
    "eval": "eval_s",
    "records": "records_s",
    "checkpoint": "checkpoint_s",
}
PHASES = tuple(PHASE_FIELDS)


@dataclass
class Cycle:
    """One window's cycle: from its compiled call to its `WindowDone` event."""

    seconds: float
    cpu_s: float
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))


class TrainProbe:
    """Collects compile times and per-window cycles from one `ppo.train.train` call.

    Pass the instance as `progress_fn`; `progress` receives one line per window.
    """

    def __init__(self, progress: Callable[[str], None]) -> None:
        self.progress = progress
        self.compile_s: float | None = None
        self.eval_compile_s: float | None = None
        self._cycles: list[Cycle] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, Compiled):
            if event.program == "window":
                self.compile_s = event.seconds
                self.progress(f"window lowered and compiled in {event.seconds:.1f} s")
            else:
                self.eval_compile_s = event.seconds
        elif isinstance(event, WindowDone):
            phases = {name: getattr(event.phases, f) for name, f in PHASE_FIELDS.items()}
            self._cycles.append(Cycle(event.seconds, event.cpu_s, phases))
            self.progress(f"window {event.window_id}: {event.seconds:.2f} s")

    def cycles(self) -> list[Cycle]:
        """Every window's cycle, in order."""
        return list(self._cycles)

    @staticmethod
    def phase_medians(cycles: list[Cycle]) -> dict[str, float]:
        """Median seconds per phase over `cycles`, plus `other` (the rest of the cycle)."""
        med = {p: median(c.phases[p] for c in cycles) for p in PHASES}
        med["other"] = median(c.seconds - sum(c.phases.values()) for c in cycles)
        med["cycle"] = median(c.seconds for c in cycles)
        return med
