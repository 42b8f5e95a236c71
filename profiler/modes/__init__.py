"""One module per profiler mode; each exposes `run(spec, progress) -> dict` (a report run)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

_MODULES = {
    "reference": "profiler.modes.reference",
    "env-only": "profiler.modes.env_only",
    "trainer": "profiler.modes.trainer",
    "trainer+eval": "profiler.modes.trainer",
}


def runner(mode: str) -> Callable[[dict, Callable[[str], None]], dict]:
    """The `run` function of a mode (imported lazily: each mode pulls in different stacks)."""
    return importlib.import_module(_MODULES[mode]).run
