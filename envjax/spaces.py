"""gymnax-style spaces of the JAX env: what `CaravanEnv.action_space()` and
`observation_space()` return, so callers read sizes from the env instead of module constants.

Plain frozen dataclasses (no gymnax dependency); `contains` works on NumPy and JAX arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Discrete:
    """Integers 0 .. n - 1 (int32 scalars)."""

    n: int
    shape: tuple[int, ...] = ()
    dtype: Any = np.int32

    def contains(self, x: Any) -> Any:
        """True (bool scalar, traced under jit) where `x` is a valid action id."""
        return (x >= 0) & (x < self.n)


@dataclass(frozen=True)
class Box:
    """float32 arrays of `shape` with elementwise bounds `low` <= x <= `high`."""

    low: np.ndarray
    high: np.ndarray
    shape: tuple[int, ...]
    dtype: Any = np.float32

    def contains(self, x: Any) -> Any:
        """True where every entry of `x` lies within the bounds (bool scalar)."""
        return ((x >= self.low) & (x <= self.high)).all()
