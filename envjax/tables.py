"""The game's constant tables as NumPy arrays for the JAX env, and its integer helpers.

`envjax.constants` holds the numbers as plain Python (the reference uses them so); this module
turns them into arrays once at import, which jitted code folds into the compiled program.
Shapes and dtypes are in the comments; town-good tables are flat [96] (index t * 12 + g)
because XLA vectorises the step's elementwise work far better over one contiguous axis than
over an [8, 12] block.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envjax import constants as C

V = np.asarray(C.GOOD_VALUE_CENTS, np.int32)  # int32[12] fair value, cents
W = np.asarray(C.GOOD_WEIGHT, np.int32)  # int32[12] weight per unit
CAP = np.asarray(C.PRICE_CAP_CENTS, np.int32)  # int32[12] price cap, cents
INV_V = (1.0 / np.asarray(C.GOOD_VALUE_CENTS, np.float64)).astype(np.float32)  # float32[12]
DANGER = np.asarray(C.DANGER, np.int32)  # int32[8, 8] road danger 0..3, -1: no road
ADJ = DANGER != C.NO_ROAD  # bool[8, 8] a road joins the two towns
IDX_KEY = np.asarray(C.IDX_KEY, np.uint32)  # uint32[109] hash key of each counter slot
N_TG = C.N_TOWNS * C.N_GOODS  # 96 town-good slots
PRICE_KEYS = IDX_KEY[C.SLOT_PRICE : C.SLOT_PRICE + N_TG]  # uint32[96]
TG_TOWN = np.repeat(np.arange(C.N_TOWNS, dtype=np.int32), C.N_GOODS)  # int32[96] town of slot
TG_GOOD = np.tile(np.arange(C.N_GOODS, dtype=np.int32), C.N_TOWNS)  # int32[96] good of slot
V96 = np.tile(V, C.N_TOWNS)  # int32[96]
CAP96 = np.tile(CAP, C.N_TOWNS)  # int32[96]
INV_V96 = np.tile(INV_V, C.N_TOWNS)  # float32[96]
TOWNS = np.arange(C.N_TOWNS, dtype=np.int32)  # int32[8]
GOODS = np.arange(C.N_GOODS, dtype=np.int32)  # int32[12]
ACTIONS = np.arange(C.N_ACTIONS, dtype=np.int32)  # int32[69]


def as_i32(x: jax.Array) -> jax.Array:
    """`x` cast to int32 (hash bits to arithmetic)."""
    return x.astype(jnp.int32)


def impact_step(price: jax.Array) -> jax.Array:
    """int32 cents: how much each further unit of one trade moves the price (>= 1).

    `jax.lax.div` (truncating) equals the reference's floor division for prices >= 1 and
    compiles to one instruction."""
    return jnp.maximum(1, jax.lax.div(price, C.IMPACT_DIV))
