"""ppo training math: GAE against a plain loop, masked sampling, the PPO loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ppo.losses import explained_variance, gae, ppo_loss
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
