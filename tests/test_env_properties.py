"""Property tests of the Caravan game (reference and JAX env).

Mask = validity, invalid = wait + penalty, no negative cash or cargo, capacity respected,
determinism, documented observation bounds, map and market invariants, no recompiles.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import trajectories as T
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envjax import CaravanEnv
from envjax import constants as C
from envjax import reference as R
from envjax.env import action_mask, fmix32, get_obs
from envjax.policies import heuristic_action, random_valid_action
from envjax.vec import reset_batch, step_batch

ENV = CaravanEnv()
KEY = jax.random.key(0)
seeds = st.integers(0, 2**32 - 1)


def _states_along(seed: int, style: str, tail: int, every: int = 9) -> list[R.RefState]:
    """Reference states met along a 400-day plan (every `every`-th, plus starts)."""
    env = R.ReferenceEnv(seed)
    env.reset()
    out = []
    for i, choice in enumerate(T.expand_choices([], tail, 400)):
        if i % every == 0:
            out.append(R.clone(env.state))
        _, _, term, trunc, _ = env.step(T.choose_action(style, choice, env.state))
        if term or trunc:
            env.reset()
    return out


def _stack(states: list[R.RefState]):
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[R.to_jax_state(s) for s in states])


_mask_batch = jax.jit(jax.vmap(action_mask))
_step_env_batch = jax.jit(jax.vmap(ENV.step_env, in_axes=(None, 0, 0, None)))


# ---- mask and validity ----


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, style=st.sampled_from(T.STYLES), tail=seeds)
def test_env_properties__mask_is_exactly_validity(seed: int, style: str, tail: int) -> None:
    states = _states_along(seed, style, tail, every=17)
    jax_masks = np.asarray(_mask_batch(_stack(states)))
    for s, jmask in zip(states, jax_masks, strict=True):
        mask = R.action_mask(s)
        assert jmask.tolist() == mask
        for a in range(C.N_ACTIONS):
            r = R.step_state(R.clone(s), a)
            assert r.invalid == (not mask[a]), (a, C.ACTION_LABELS[a])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, style=st.sampled_from(T.STYLES), tail=seeds)
def test_env_properties__invalid_action_is_wait_plus_penalty(
    seed: int, style: str, tail: int
) -> None:
    pairs = []
    for s in _states_along(seed, style, tail, every=13):
        mask = R.action_mask(s)
        pairs += [(s, a) for a in range(C.N_ACTIONS) if not mask[a]][::7]
    assert pairs
    # reference
    for s, a in pairs:
        bad, wait = R.clone(s), R.clone(s)
        rb, rw = R.step_state(bad, a), R.step_state(wait, C.A_WAIT)
        assert rb.invalid and not rw.invalid
        assert bad.n_invalid == wait.n_invalid + 1
        bad.n_invalid = wait.n_invalid
        assert bad == wait
        assert rb.reward == pytest.approx(rw.reward - 0.1, abs=2e-6 * max(1, abs(rw.reward)))
    # JAX, all pairs in one vmapped call
    states = _stack([s for s, _ in pairs])
    acts = jnp.asarray([a for _, a in pairs], jnp.int32)
    ob, sb, rb, *_, ib = _step_env_batch(KEY, states, acts, None)
    ow, sw, rw, *_, iw = _step_env_batch(KEY, states, jnp.zeros_like(acts), None)
    assert bool(jnp.all(ib["invalid"])) and not bool(jnp.any(iw["invalid"]))
    assert bool(
        jnp.all(ib["action_kind"] == jnp.asarray([C.decode_action(a)[0] for _, a in pairs]))
    )
    np.testing.assert_array_equal(np.asarray(sb.n_invalid), np.asarray(sw.n_invalid) + 1)
    for f in R.STATE_FIELDS:
        if f != "n_invalid":
            np.testing.assert_array_equal(np.asarray(getattr(sb, f)), np.asarray(getattr(sw, f)))
    np.testing.assert_allclose(np.asarray(rb), np.asarray(rw) - 0.1, atol=2e-6, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ob), np.asarray(ow))


def test_env_properties__out_of_range_action_rejected_by_reference() -> None:
    env = R.ReferenceEnv(1)
    env.reset()
    with pytest.raises(ValueError, match="action must be"):
        env.step(69)
    with pytest.raises(ValueError, match="seed must be"):
        R.ReferenceEnv(-1)


# ---- invariants and observation bounds over long batched runs ----

OBS_LO = np.zeros(C.OBS_DIM, np.float32)
OBS_HI = np.ones(C.OBS_DIM, np.float32)
OBS_HI[69:177] = 5.0
OBS_HI[225:237] = 5.0
OBS_HI[237:] = 0.0
BINARY = np.zeros(C.OBS_DIM, bool)
BINARY[0:69] = BINARY[185:193] = BINARY[222:225] = True


def _invariant_run(policy: str, n: int = 256, days: int = 400) -> dict[str, np.ndarray]:
    @jax.jit
    def run(obs, state, key):
        def body(carry, _):
            obs, state, key = carry
            key, k = jax.random.split(key)
            if policy == "random":
                act = jax.vmap(random_valid_action)(jax.random.split(k, n), obs)
            elif policy == "raw":
                act = jax.random.randint(k, (n,), 0, C.N_ACTIONS)
            else:
                act = jax.vmap(heuristic_action, in_axes=(0, None))(state, None)
            obs, state, *_ = step_batch(state, act)
            weight = jnp.sum(state.cargo * jnp.asarray(C.GOOD_WEIGHT), axis=1)
            cap = jnp.tile(jnp.asarray(C.PRICE_CAP_CENTS), C.N_TOWNS)
            stats = {
                "min_cash": jnp.min(state.cash),
                "min_cargo": jnp.min(state.cargo),
                "max_weight": jnp.max(weight),
                "min_price": jnp.min(state.price),
                "price_over_cap": jnp.max(state.price - cap),
                "min_health": jnp.min(state.health),
                "max_health": jnp.max(state.health),
                "obs_lo": jnp.min(obs, axis=0),
                "obs_hi": jnp.max(obs, axis=0),
                "non_binary": jnp.any((obs != 0) & (obs != 1), axis=0),
                "mask_matches": jnp.all((obs[:, :69] > 0.5) == jax.vmap(action_mask)(state)),
                "finite": jnp.all(jnp.isfinite(obs)),
            }
            return (obs, state, key), stats

        return jax.lax.scan(body, (obs, state, key), None, length=days)[1]

    obs, state = reset_batch(np.arange(n, dtype=np.uint32) * 7919 + 3)
    return {k: np.asarray(v) for k, v in run(obs, state, jax.random.key(n)).items()}


@pytest.mark.parametrize("policy", ["random", "raw", "heuristic"])
def test_env_properties__invariants_and_obs_bounds_hold(policy: str) -> None:
    s = _invariant_run(policy)
    assert s["min_cash"].min() >= 0
    assert s["min_cargo"].min() >= 0
    assert s["max_weight"].max() <= C.CAPACITY
    assert s["min_price"].min() >= 1
    assert s["price_over_cap"].max() <= 0
    assert s["min_health"].min() >= 1  # auto-reset: a live state always follows
    assert s["max_health"].max() <= C.MAX_HEALTH
    assert s["finite"].all() and s["mask_matches"].all()
    lo, hi = s["obs_lo"].min(axis=0), s["obs_hi"].max(axis=0)
    bad_lo, bad_hi = np.flatnonzero(lo < OBS_LO), np.flatnonzero(hi > OBS_HI)
    assert not bad_lo.size and not bad_hi.size, (bad_lo, lo[bad_lo], bad_hi, hi[bad_hi])
    assert not s["non_binary"].any(axis=0)[BINARY].any()
    assert hi[213] < 1.0 and hi[221] < 1.0


def test_env_properties__terminal_obs_of_step_env_within_documented_bounds() -> None:
    env = R.ReferenceEnv(11)
    env.reset()
    obs = None
    for _ in range(400):
        obs, _, term, _, _ = env.step(C.A_SELLALL + C.PROVISIONS if env.state.cargo[0] else 0)
        if term:
            break
    assert term and obs is not None
    assert -0.4 <= obs[215] <= 0.0
    assert all(0.0 <= v <= 5.0 for i, v in enumerate(obs) if i != 215)


# ---- determinism, seeds, no recompiles ----


def test_env_properties__same_seed_and_actions_same_trajectory() -> None:
    ref1 = T.reference_rollout(99, 3, T.expand_choices([], 5, 400), "mixed")
    ref2 = T.reference_rollout(99, 3, T.expand_choices([], 5, 400), "mixed")
    assert T.first_divergence(ref1, ref2) is None
    jx1 = T.jax_rollout(99, 3, ref1["action"])
    jx2 = T.jax_rollout(99, 3, ref1["action"])
    for k in jx1:
        np.testing.assert_array_equal(jx1[k], jx2[k])
    other = T.jax_rollout(100, 3, ref1["action"])
    assert not np.array_equal(other["price"], jx1["price"])


def test_env_properties__auto_reset_seeds_follow_base_seed_index_and_count() -> None:
    _, s = ENV.reset_from_seed(7, None, 5)
    assert int(s.ep_seed) == C.episode_seed(7, 5, 0)
    _, s2 = ENV.reset_from_seed(7, None, 6)
    assert int(s2.ep_seed) != int(s.ep_seed)
    s = s.replace(health=jnp.int32(1), cargo=s.cargo.at[C.PROVISIONS].set(0))
    _, nxt, _, term, _, info = ENV.step(KEY, s, jnp.int32(0), None)
    assert bool(term) and bool(info["episode_done"]) and not bool(info["episode_survived"])
    assert int(nxt.episode) == 1 and int(nxt.ep_seed) == C.episode_seed(7, 5, 1)
    assert int(nxt.day) == 0 and int(nxt.cash) == C.START_CASH_CENTS
    assert float(info["episode_profit"]) == -580.0
    ref = R.ReferenceEnv(7, 5)
    ref.reset()
    ref.reset()  # second episode
    assert R.from_jax_state(nxt) == ref.state


def test_env_properties__reset_from_key_is_deterministic_per_key() -> None:
    o1, s1 = jax.jit(ENV.reset)(jax.random.key(3))
    _, s2 = jax.jit(ENV.reset)(jax.random.key(3))
    _, s3 = jax.jit(ENV.reset)(jax.random.key(4))
    assert R.from_jax_state(s1) == R.from_jax_state(s2)
    assert int(s1.base_seed) != int(s3.base_seed)
    # jitted XLA turns x / 100 into x * 0.01: equal within float32 rounding
    np.testing.assert_allclose(np.asarray(o1), np.asarray(get_obs(s1)), rtol=1e-6, atol=0)
    assert o1.shape == (C.OBS_DIM,) and o1.dtype == jnp.float32


def test_env_properties__step_compiles_once_for_new_values() -> None:
    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(state, action):
        return jax.vmap(ENV.step, in_axes=(None, 0, 0, None))(
            KEY, state, action, ENV.default_params
        )

    _, state = reset_batch(np.arange(16, dtype=np.uint32))
    for i in range(5):
        _, state, *_ = step(state, jnp.full(16, i * 7 % C.N_ACTIONS, jnp.int32))
    _, state = reset_batch(np.arange(16, dtype=np.uint32) + 100)
    step(state, jnp.zeros(16, jnp.int32))


def test_env_properties__full_info_adds_documented_fields() -> None:
    _, s = ENV.reset_from_seed(3)
    full = CaravanEnv(full_info=True)
    *_, info = ENV.step(KEY, s, jnp.int32(0), None)
    *_, info_full = full.step(KEY, s, jnp.int32(0), None)
    base = {"invalid", "action_kind", "episode_done", *T.EPISODE_FIELDS}
    assert set(info) == base
    extra = {"net_worth", "bandit_attack", "medicine_used", "starved", "trade_units", "trade_cash"}
    assert set(info_full) == base | extra
    assert info["episode_return"].dtype == jnp.float32
    assert info["episode_invalid"].dtype == jnp.int32


# ---- hash, map and market ----


def test_env_properties__hash_matches_murmur3_and_wraps_like_python() -> None:
    assert C.fmix32(0) == 0 and C.fmix32(1) == 0x514E28B7  # murmur3 fmix32 known answer
    xs = np.random.default_rng(0).integers(0, 2**32, 4096, dtype=np.uint64)
    xs[:3] = [0, 2**32 - 1, 2**31]
    got = np.asarray(jax.jit(fmix32)(jnp.asarray(xs, jnp.uint32)))
    assert got.tolist() == [C.fmix32(int(x)) for x in xs]


def test_env_properties__map_is_connected_with_2_to_4_roads_and_diameter_3() -> None:
    adj = {t: [u for u in range(C.N_TOWNS) if C.DANGER[t][u] != C.NO_ROAD] for t in range(8)}
    assert all(2 <= len(v) <= 4 for v in adj.values())
    assert all(0 <= d <= 3 for _, _, d in C.ROADS)
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in C.TOWN_XY)
    ecc = []
    for src in range(C.N_TOWNS):
        dist, frontier = {src: 0}, [src]
        while frontier:
            nxt = []
            for t in frontier:
                for u in adj[t]:
                    if u not in dist:
                        dist[u] = dist[t] + 1
                        nxt.append(u)
            frontier = nxt
        assert len(dist) == C.N_TOWNS
        ecc.append(max(dist.values()))
    assert max(ecc) >= 3


@settings(max_examples=200, deadline=None)
@given(seed=seeds, index=st.integers(0, 2**20))
def test_env_properties__every_good_has_producer_and_consumer(seed: int, index: int) -> None:
    s = R.initial_state(seed, index)
    for g, v in enumerate(C.GOOD_VALUE_CENTS):
        col = [s.base[t][g] for t in range(C.N_TOWNS)]
        assert all(v // 2 <= b <= v * 18 // 10 for b in col)
        assert min(col) * 10 <= 7 * v and max(col) * 10 >= 14 * v


def test_env_properties__batched_auto_reset_equals_select_on_every_path() -> None:
    from envjax.autoreset import _next_episode, _select, auto_reset

    n = 32  # the cheap path rebuilds up to n // 16 = 2 rows
    _, state = reset_batch(np.arange(n, dtype=np.uint32) * 3 + 1)
    state = state.replace(day=state.day + 17, episode=state.episode + 2)
    select = jax.jit(jax.vmap(lambda d, s: _select(d, _next_episode(s), s)))
    batched = jax.jit(jax.vmap(auto_reset))
    for rows in ([], [5], [0, 31], [1, 2, 3], list(range(n))):
        done = jnp.zeros(n, bool).at[jnp.asarray(rows, jnp.int32)].set(True)
        got, want = batched(done, state), select(done, state)
        for f in R.STATE_FIELDS:
            np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f"{rows} {f}")
    # unbatched use (no vmap) is the plain select
    one = jax.tree_util.tree_map(lambda x: x[0], state)
    assert R.from_jax_state(auto_reset(jnp.bool_(True), one)) == R.from_jax_state(
        _next_episode(one)
    )
