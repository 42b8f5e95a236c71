"""Caravan: a trading-caravan survival game with a plain-Python reference and a JAX env.

Constants import without JAX; `CaravanEnv`, `EnvParams` and `EnvState` load `envjax.env`
(and so JAX) on first use, so `envjax.reference` and the Gymnasium wrapper stay JAX-free.
"""

from __future__ import annotations

from typing import Any

from envjax.constants import (
    ACTION_LABELS,
    GOOD_NAMES,
    MAX_DAYS,
    N_ACTIONS,
    N_GOODS,
    N_TOWNS,
    OBS_DIM,
    TOWN_NAMES,
    action_mask_from_obs,
)

__all__ = [
    "ACTION_LABELS",
    "GOOD_NAMES",
    "MAX_DAYS",
    "N_ACTIONS",
    "N_GOODS",
    "N_TOWNS",
    "OBS_DIM",
    "TOWN_NAMES",
    "CaravanEnv",
    "EnvParams",
    "EnvState",
    "action_mask_from_obs",
]

_LAZY = {"CaravanEnv", "EnvParams", "EnvState"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from envjax import env

        return getattr(env, name)
    raise AttributeError(f"module 'envjax' has no attribute {name!r}")
