"""XLA's own cost estimate of a compiled program."""

from __future__ import annotations

from typing import Any


def xla_cost(compiled: Any) -> dict[str, float]:
    """`compiled.cost_analysis()` as one flat dict (keys such as "flops" and "bytes
    accessed"); {} where the backend offers none. XLA counts a loop body once, whatever its
    trip count."""
    try:
        ca = compiled.cost_analysis()
    except Exception:  # optional per backend
        return {}
    if isinstance(ca, list):  # some jax versions: one dict per computation
        ca = ca[0] if ca else {}
    return dict(ca or {})
