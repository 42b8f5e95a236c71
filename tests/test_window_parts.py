"""ppo.window's named pieces: the rollout accumulator and the schedule count read by type."""

from __future__ import annotations

import dataclasses

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


# ---- the round-2 speed changes keep the numbers (docs/THROUGHPUT.md, P8-P10) ----


def test_random_permutation__is_exactly_the_stable_argsort_of_the_keys() -> None:
    import jax

    from ppo.window import random_permutation

    for seed, n in ((0, 1), (1, 1000), (2, 65_536)):
        key = jax.random.PRNGKey(seed)
        expected = jnp.argsort(jax.random.bits(key, (n,), jnp.uint32), stable=True)
        got = random_permutation(key, n)
        assert got.dtype == jnp.int32
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    # a permutation of range(n) at a size where 32-bit key ties are expected (~32 pairs),
    # equal to the stable argsort there too (ties in index order)
    n = 524_288
    key = jax.random.PRNGKey(4)
    bits = jax.random.bits(key, (n,), jnp.uint32)
    assert len(np.unique(np.asarray(bits))) < n  # the tie case is exercised
    np.testing.assert_array_equal(
        np.asarray(random_permutation(key, n)), np.asarray(jnp.argsort(bits, stable=True))
    )


def test_cumsum_last__matches_cumsum_and_never_decreases_over_zero_terms() -> None:
    import jax

    from ppo.network import cumsum_last

    x = jax.random.uniform(jax.random.PRNGKey(0), (512, 69))
    x = jnp.where(jax.random.uniform(jax.random.PRNGKey(1), x.shape) < 0.6, 0.0, x)
    got = np.asarray(cumsum_last(x))
    np.testing.assert_allclose(got, np.cumsum(np.asarray(x, np.float64), -1), rtol=1e-6)
    assert (np.diff(got, axis=-1) >= 0).all()


def test_stored_obs__drops_only_reserved_zero_columns_and_keeps_the_function() -> None:
    import jax

    from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
    from envjax.constants import OBS_RESERVED
    from ppo.network import ActorCritic, with_input_width
    from ppo.window import STORED_OBS, stored_obs

    assert STORED_OBS % 8 == 0 and OBS_RESERVED.start <= STORED_OBS <= OBS_DIM
    assert OBS_RESERVED.stop == OBS_DIM  # everything past STORED_OBS is reserved (zero)
    env = CaravanEnv()
    obs, _ = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 32), env.default_params
    )
    net = ActorCritic(N_ACTIONS, hidden=16, layers=2)
    params = net.init(jax.random.PRNGKey(1), obs[:1])
    full = net.apply(params, obs)
    cut = net.apply(with_input_width(params, STORED_OBS), stored_obs(obs))
    for a, b in zip(full, cut, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)

    def loss(p):
        logits, value = net.apply(with_input_width(p, STORED_OBS), stored_obs(obs))
        return (logits**2).sum() + value.sum()

    g = jax.grad(loss)(params)["params"]["trunk_0"]["kernel"]
    assert g.shape == (OBS_DIM, 16)
    assert not np.asarray(g[STORED_OBS:]).any() and np.asarray(g[:STORED_OBS]).any()


def test_policy__reads_every_column_of_an_env_with_another_observation_layout() -> None:
    """train(env=...) takes any env: the stored-columns cut (Caravan's reserved, always-0
    columns) must not drop live columns of an env with another obs width (it used to keep
    only the first 240 of any env, so columns past them never reached the network)."""
    import jax

    from envjax import N_ACTIONS, CaravanEnv, spaces
    from ppo.window import make_network, make_parts, stored_width

    class Wider:
        """Caravan's observation with 8 extra live columns (all 1) at the end."""

        def __init__(self) -> None:
            self._env = CaravanEnv()
            self.default_params = self._env.default_params

        def reset(self, key, params):
            obs, s = self._env.reset(key, params)
            return jnp.concatenate([obs, jnp.ones(8, obs.dtype)]), s

        def observation_space(self, params):
            (n,) = self._env.observation_space(params).shape
            return spaces.Box(np.zeros(n + 8), np.ones(n + 8), (n + 8,))

        def __getattr__(self, name):
            return getattr(self._env, name)

    env = Wider()
    (obs_dim,) = env.observation_space(env.default_params).shape
    assert stored_width(obs_dim) == obs_dim
    cfg = TrainConfig(num_envs=8, rollout_steps=4, minibatches=2, hidden=16)
    parts = make_parts(cfg, cfg.derived(1), env, env.default_params, N_ACTIONS)
    obs, _ = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 4), env.default_params
    )
    params = make_network(cfg, N_ACTIONS).init(jax.random.PRNGKey(1), obs[:1])
    _, value = parts.policy(params, obs)
    _, value_without = parts.policy(params, obs.at[:, -8:].set(0.0))
    assert not np.allclose(np.asarray(value), np.asarray(value_without))


# ---- round 4 (docs/THROUGHPUT.md, P11-P13) keeps the numbers ----


def test_pack_scalars__round_trips_exactly_through_a_jitted_gather() -> None:
    import jax

    from ppo.window import SCALAR_COLS, pack_scalars, unpack_scalars

    n = 4096
    key = jax.random.PRNGKey(3)
    action = jnp.concatenate([jnp.arange(69), jnp.array([2**24 - 1])])
    action = jnp.resize(action, (n,)).astype(jnp.int32)
    floats = [
        jax.random.normal(k, (n,), jnp.float32) * scale
        for k, scale in zip(jax.random.split(key, 4), (1.0, 1e6, 1e-30, 3e38), strict=True)
    ]
    idx = jax.random.permutation(key, n)

    @jax.jit
    def through(a, f0, f1, f2, f3, i):
        packed = pack_scalars(a, f0, f1, f2, f3)
        return packed.shape, unpack_scalars(packed.at[i].get(mode="promise_in_bounds"))

    shape, got = through(action, *floats, idx)
    assert shape == (n, SCALAR_COLS)
    assert got[0].dtype == jnp.int32
    for g, want in zip(got, (action, *floats), strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(want)[np.asarray(idx)])


def test_rollout__fills_the_whole_obs_buffer_and_never_reads_its_old_contents() -> None:
    import jax

    from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
    from ppo.window import STORED_OBS, init_runner, make_mesh, make_parts, obs_buffer

    cfg = TrainConfig(num_envs=8, rollout_steps=5, minibatches=1, hidden=8)
    der = cfg.derived(1)
    env = CaravanEnv()
    runner = init_runner(cfg, der, env, env.default_params, make_mesh(1), OBS_DIM, N_ACTIONS)
    one = jax.tree.map(lambda x: x[0], runner)
    parts = make_parts(cfg, der, env, env.default_params, N_ACTIONS)
    rollout = jax.jit(parts.rollout)
    key = jax.random.PRNGKey(11)
    zeros = obs_buffer(cfg, cfg.num_envs)
    assert zeros.shape == (5, 8, STORED_OBS)
    out_a = rollout(one.params, one.env_state, one.obs, key, zeros)
    out_b = rollout(one.params, one.env_state, one.obs, key, jnp.full(zeros.shape, jnp.nan))
    for a, b in zip(jax.tree.leaves(out_a), jax.tree.leaves(out_b), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    traj = out_a[1]
    assert bool(jnp.all(jnp.isfinite(traj.obs)))
    # step 0 holds the rollout's first observation, each later step the env's next one
    np.testing.assert_array_equal(np.asarray(traj.obs[0]), np.asarray(one.obs[:, :STORED_OBS]))
    assert not np.array_equal(np.asarray(traj.obs[1]), np.asarray(traj.obs[0]))


# ---- round 7 (docs/THROUGHPUT.md, P15): minibatches drawn in chunks of consecutive envs ----


@pytest.mark.parametrize(
    ("num_envs", "rollout_steps", "minibatches", "chunk", "want_chunk"),
    [
        (16, 4, 2, 4, 4),  # chunks of 4 envs
        (16, 4, 2, 1, 1),  # single samples
        (12, 4, 3, 8, 4),  # 8 does not divide 12 envs: lowered to gcd(8, 12, 16) = 4
        (8, 3, 6, 8, 4),  # minibatches of 4 samples cap the chunk at 4
        (5, 4, 4, 8, 1),  # 5 envs: single samples
    ],
)
def test_shuffle_and_gather__each_epoch_is_a_permutation_of_whole_chunks(
    num_envs: int, rollout_steps: int, minibatches: int, chunk: int, want_chunk: int
) -> None:
    import jax

    from envjax import N_ACTIONS, CaravanEnv
    from ppo.window import make_parts

    cfg = TrainConfig(
        num_envs=num_envs,
        rollout_steps=rollout_steps,
        minibatches=minibatches,
        minibatch_chunk=chunk,
        hidden=8,
    )
    der = cfg.derived(1)
    assert der.minibatch_chunk == want_chunk
    env = CaravanEnv()
    parts = make_parts(cfg, der, env, env.default_params, N_ACTIONS)
    n = num_envs * rollout_steps
    # Flat rows are step-major: row = step * num_envs + env; column 0 says which row it is.
    flat = (jnp.arange(n, dtype=jnp.float32)[:, None] * jnp.ones((1, 3)),)
    seen = []
    for seed in range(3):
        idx = jax.jit(parts.shuffle)(jax.random.PRNGKey(seed))
        assert idx.dtype == jnp.int32
        mbs = [np.asarray(parts.gather(flat, row)[0][:, 0]).astype(int) for row in idx]
        assert all(len(mb) == n // minibatches for mb in mbs)
        rows = np.concatenate(mbs)
        np.testing.assert_array_equal(np.sort(rows), np.arange(n))  # each sample once
        groups = rows.reshape(-1, want_chunk)
        # each chunk: consecutive envs of one rollout step, starting on a chunk boundary
        assert np.all(groups[:, 0] % want_chunk == 0)
        np.testing.assert_array_equal(groups - groups[:, :1], np.arange(want_chunk) + 0 * groups)
        assert np.all(groups[:, 0] // num_envs == groups[:, -1] // num_envs)
        seen.append(rows)
    assert not np.array_equal(seen[0], seen[1])  # the key moves the permutation


def test_stored_config_without_minibatch_chunk__resumes_with_single_samples() -> None:
    # runs stored before the field trained with single samples: the default must stay 1, or
    # from_stored must learn to fill the old value
    stored = dataclasses.asdict(TrainConfig(num_envs=16))
    del stored["minibatch_chunk"]
    assert TrainConfig.from_stored(stored).minibatch_chunk == 1
    stored["minibatch_chunk"] = 4
    assert TrainConfig.from_stored(stored).minibatch_chunk == 4
    assert TrainConfig().minibatch_chunk == 1


def test_init_runner__each_seeds_qr_runs_unbatched_with_the_seeds_own_keys() -> None:
    """The orthogonal init's QR is a LAPACK call that, batched over seeds, splits its batch
    over XLA's CPU thread pool and waits on it; two at once wedged 2-core runs with
    --num-seeds 3 (docs/TRAINING.md "A wedged run"). init_runner runs one seed per call."""
    import jax

    from envjax import N_ACTIONS, OBS_DIM, CaravanEnv
    from ppo.window import init_runner, make_mesh, make_network, seed_keys, seed_params_fn

    cfg = TrainConfig(num_envs=8, rollout_steps=4, minibatches=2, hidden=8, num_seeds=3, seed=5)
    fn = seed_params_fn(cfg, N_ACTIONS, OBS_DIM)
    hlo = fn.lower(jnp.int32(0)).compile().as_text()
    qr = [ln for ln in hlo.splitlines() if "geqrf" in ln and "custom-call" in ln]
    assert qr, "no QR custom call found: the check below would pass vacuously"
    assert all('num_batch_dims="0"' in ln for ln in qr), qr

    env = CaravanEnv()
    der = cfg.derived(1)
    runner = init_runner(cfg, der, env, env.default_params, make_mesh(1), OBS_DIM, N_ACTIONS)
    net = make_network(cfg, N_ACTIONS)
    for i in range(3):
        want = net.init(seed_keys(cfg, jnp.int32(i))[0], jnp.zeros((1, OBS_DIM)))
        got = jax.tree.map(lambda x, i=i: x[i], runner.params)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    a, b = (np.asarray(jax.tree.leaves(runner.params)[-1][i]) for i in (0, 1))
    assert not np.array_equal(a, b)  # seeds differ
