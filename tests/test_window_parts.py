"""ppo.window's named pieces: the rollout accumulator and the schedule count read by type."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ppo.config import TrainConfig
from ppo.network import select_logp
from ppo.window import RolloutAcc, make_optimizer, schedule_count


def test_rollout_acc__sums_finished_episodes_and_kinds() -> None:
    info = {
        "episode_done": jnp.array([True, False, True]),
        "episode_return": jnp.array([1.5, 9.0, -0.5]),
        "episode_profit": jnp.array([100.0, 7.0, -20.0]),
        "episode_survived": jnp.array([True, True, False]),
        "episode_length": jnp.array([360, 5, 12]),
        "invalid": jnp.array([False, True, True]),
        "action_kind": jnp.array([0, 2, 2]),
    }
    acc = RolloutAcc.zeros().add(info).add(info)
    assert float(acc.episodes) == 4
    assert float(acc.return_sum) == pytest.approx(2.0)
    assert float(acc.profit_sum) == pytest.approx(160.0)
    assert float(acc.survived_sum) == 2
    assert float(acc.length_sum) == 2 * 372
    assert float(acc.invalid_steps) == 4
    np.testing.assert_array_equal(np.asarray(acc.kind_counts), [2, 0, 4, 0])


def test_schedule_count__found_by_type_and_counts_steps() -> None:
    cfg = TrainConfig(num_envs=8, rollout_steps=4, minibatches=2, total_steps=64)
    tx = make_optimizer(cfg, cfg.derived(1))
    params = {"w": jnp.ones((3,))}
    state = tx.init(params)
    assert int(schedule_count(state)) == 0
    _, state = tx.update({"w": jnp.full((3,), 0.1)}, state, params)
    assert int(schedule_count(state)) == 1
    with pytest.raises(ValueError, match="ScaleByScheduleState"):
        schedule_count(optax.adam(1e-3).init(params))


def test_select_logp__equals_take_along_axis() -> None:
    logp_all = jnp.log(jnp.array([[0.2, 0.3, 0.5], [0.6, 0.4, 1e-30]]))
    a = jnp.array([2, 0])
    expected = jnp.take_along_axis(logp_all, a[:, None], axis=-1)[:, 0]
    np.testing.assert_array_equal(np.asarray(select_logp(logp_all, a)), np.asarray(expected))
