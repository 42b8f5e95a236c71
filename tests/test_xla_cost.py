"""profiler.xla_cost: XLA's cost estimate as one dict, whatever shape jax returns it in."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from profiler.xla_cost import xla_cost


class _Compiled:
    def __init__(self, result: object) -> None:
        self.result = result

    def cost_analysis(self) -> object:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_xla_cost__a_real_matmul_counts_2mnk_flops():
    a = jnp.ones((8, 16), jnp.float32)
    b = jnp.ones((16, 4), jnp.float32)
    cost = xla_cost(jax.jit(jnp.matmul).lower(a, b).compile())
    assert cost["flops"] == 2 * 8 * 16 * 4
    assert cost["bytes accessed"] > 0


def test_xla_cost__a_list_a_missing_estimate_and_an_error_all_give_a_dict():
    assert xla_cost(_Compiled([{"flops": 3.0}, {"flops": 9.0}])) == {"flops": 3.0}
    assert xla_cost(_Compiled([])) == {}
    assert xla_cost(_Compiled(None)) == {}
    assert xla_cost(_Compiled(NotImplementedError("no cost model"))) == {}
