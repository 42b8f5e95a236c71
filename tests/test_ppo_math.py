"""ppo training math: GAE against a plain loop, masked sampling, the PPO loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ppo.losses import explained_variance, gae, policy_terms, ppo_loss
from ppo.network import MASKED_LOGIT, apply_mask, sample_actions


def _gae_loop(r, v, d, last_v, gamma, lam):
    t_len = len(r)
    adv = np.zeros_like(r)
    nxt_adv, nxt_v = np.zeros_like(last_v), last_v
    for t in reversed(range(t_len)):
        nd = 1.0 - d[t]
        delta = r[t] + gamma * nxt_v * nd - v[t]
        adv[t] = delta + gamma * lam * nd * nxt_adv
        nxt_adv, nxt_v = adv[t], v[t]
    return adv, adv + v


def test_gae__matches_plain_loop_with_episode_ends():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(12, 5)).astype(np.float32)
    v = rng.normal(size=(12, 5)).astype(np.float32)
    d = rng.random((12, 5)) < 0.2
    last_v = rng.normal(size=5).astype(np.float32)
    adv, ret = gae(jnp.asarray(r), jnp.asarray(v), jnp.asarray(d), jnp.asarray(last_v), 0.97, 0.9)
    adv_ref, ret_ref = _gae_loop(r, v, d.astype(np.float32), last_v, 0.97, 0.9)
    np.testing.assert_allclose(adv, adv_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, ret_ref, rtol=1e-5, atol=1e-5)


def test_sample_actions__never_picks_masked_and_follows_probs():
    logits = jnp.log(jnp.asarray([0.5, 0.2, 0.3, 0.0 + 1e-3]))
    mask = jnp.asarray([True, False, True, True])
    masked = apply_mask(jnp.broadcast_to(logits, (40000, 4)), mask)
    a = np.asarray(sample_actions(masked, jax.random.PRNGKey(0)))
    assert not np.any(a == 1)
    freq = np.bincount(a, minlength=4) / len(a)
    p = np.asarray([0.5, 0.0, 0.3, 1e-3]) / 0.801
    np.testing.assert_allclose(freq, p, atol=0.01)


def test_sample_actions__single_valid_action_always_chosen():
    logits = jax.random.normal(jax.random.PRNGKey(1), (1000, 69)) * 5
    mask = jnp.zeros((1000, 69), bool).at[:, 42].set(True)
    a = sample_actions(apply_mask(logits, mask), jax.random.PRNGKey(2))
    assert np.all(np.asarray(a) == 42)


def test_ppo_loss__on_policy_values_and_finite_with_masks():
    rng = np.random.default_rng(3)
    n = 256
    logits = apply_mask(
        jnp.asarray(rng.normal(size=(n, 69)), jnp.float32),
        jnp.asarray(rng.random((n, 69)) < 0.3).at[:, 0].set(True),
    )
    actions = jnp.zeros(n, jnp.int32)
    old_logp = jax.nn.log_softmax(logits)[:, 0]
    values = jnp.asarray(rng.normal(size=n), jnp.float32)
    adv = jnp.asarray(rng.normal(size=n), jnp.float32)
    total, parts = ppo_loss(
        logits, values, actions, old_logp, values, adv, values + adv, 0.2, 0.5, 0.01
    )
    # ratio == 1: the surrogate is minus the mean normalised advantage (0), no clipping, KL 0
    assert abs(float(parts.policy)) < 1e-5
    assert float(parts.clip_frac) == 0.0
    assert abs(float(parts.approx_kl)) < 1e-6
    np.testing.assert_allclose(float(parts.value), 0.5 * float(jnp.mean(adv**2)), rtol=1e-5)
    assert np.isfinite(float(parts.entropy)) and float(parts.entropy) > 0
    assert np.isfinite(float(total))
    assert MASKED_LOGIT < -1e8


def test_explained_variance__perfect_and_constant():
    r = jnp.arange(10.0)
    assert float(explained_variance(r, r)) == 1.0
    assert float(explained_variance(r, jnp.ones(10))) == 0.0


def _reference_terms(logits: jax.Array, actions: jax.Array) -> tuple[jax.Array, jax.Array]:
    logp_all = jax.nn.log_softmax(logits, axis=-1)
    logp = jnp.take_along_axis(logp_all, actions[..., None], axis=-1)[..., 0]
    return logp, -(jnp.exp(logp_all) * logp_all).sum(-1)


@pytest.mark.parametrize(
    ("shape", "scale", "valid_frac"),
    [
        ((256, 69), 1.0, 0.3),  # the trainer's shape, sparse masks
        ((4, 5, 69), 3.0, 0.9),  # extra leading axes, mostly valid
        ((64, 69), 40.0, 0.5),  # near one-hot policies (large logits)
        ((64, 69), 1.0, 0.0),  # one valid action per row: logp 0, entropy 0
        ((32, 2), 0.5, 1.0),  # two actions, none masked
    ],
)
def test_policy_terms__values_and_gradients_equal_autodiff_of_log_softmax(
    shape: tuple[int, ...], scale: float, valid_frac: float
):
    rng = np.random.default_rng(int(scale * 10) + len(shape))
    n_act = shape[-1]
    valid = rng.random(shape) < valid_frac
    actions = rng.integers(0, n_act, size=shape[:-1])
    np.put_along_axis(valid, actions[..., None], True, axis=-1)  # the taken action is valid
    logits = apply_mask(
        jnp.asarray(scale * rng.normal(size=shape), jnp.float32), jnp.asarray(valid)
    )
    acts = jnp.asarray(actions, jnp.int32)
    g_logp = jnp.asarray(rng.normal(size=shape[:-1]), jnp.float32)
    g_ent = jnp.asarray(rng.normal(size=shape[:-1]), jnp.float32)

    def contract(fn):
        def f(x):
            logp, ent = fn(x, acts)
            return jnp.sum(logp * g_logp) + jnp.sum(ent * g_ent)

        return f

    got, want = policy_terms(logits, acts), _reference_terms(logits, acts)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape == shape[:-1]
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=2e-5)
    d_got = jax.jit(jax.grad(contract(policy_terms)))(logits)
    d_want = jax.grad(contract(_reference_terms))(logits)
    np.testing.assert_allclose(np.asarray(d_got), np.asarray(d_want), rtol=1e-4, atol=2e-5)
    # Masked logits get exactly zero gradient, as through the reference.
    assert np.all(np.asarray(d_got)[~valid] == 0.0)
    if valid_frac == 0.0:
        np.testing.assert_allclose(np.asarray(got[0]), 0.0, atol=1e-6)
        np.testing.assert_allclose(np.asarray(got[1]), 0.0, atol=1e-6)


def test_policy_terms_and_select_logp__narrow_action_dtypes_do_not_wrap():
    """uint8 actions with 300 actions: an index array in the action's dtype would wrap, so
    action 10 would also match index 266."""
    from ppo.network import select_logp

    rng = np.random.default_rng(7)
    logits = jnp.asarray(rng.normal(size=(4, 300)), jnp.float32)
    acts = jnp.asarray([10, 0, 255, 44], jnp.uint8)
    want = _reference_terms(logits, acts.astype(jnp.int32))
    got = policy_terms(logits, acts)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), rtol=1e-5)
    lp = jax.nn.log_softmax(logits)
    np.testing.assert_allclose(
        np.asarray(select_logp(lp, acts)), np.asarray(want[0]), rtol=1e-5, atol=1e-6
    )
    d = jax.grad(lambda x: policy_terms(x, acts)[0].sum())(logits)
    d_want = jax.grad(lambda x: _reference_terms(x, acts.astype(jnp.int32))[0].sum())(logits)
    np.testing.assert_allclose(np.asarray(d), np.asarray(d_want), rtol=1e-4, atol=1e-6)
