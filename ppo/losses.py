"""PPO training math: GAE and the clipped surrogate loss. Pure functions."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ppo.network import select_logp, softmax_parts


def gae(
    rewards: jax.Array,
    values: jax.Array,
    dones: jax.Array,
    last_value: jax.Array,
    gamma: float,
    lam: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation over a [T, N] rollout.

    `dones[t]` means the episode ended at step t (terminated or truncated: the observation
    holds the days left, so the time limit is part of the state and is treated as terminal).
    Returns (advantages, returns), both [T, N].
    """

    def body(carry, x):
        next_adv, next_value = carry
        r, v, d = x
        not_done = 1.0 - d.astype(r.dtype)
        delta = r + gamma * next_value * not_done - v
        adv = delta + gamma * lam * not_done * next_adv
        return (adv, v), adv

    init = (jnp.zeros_like(last_value), last_value)
    _, adv = jax.lax.scan(body, init, (rewards, values, dones), reverse=True)
    return adv, adv + values


@jax.custom_vjp
def policy_terms(logits: jax.Array, actions: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(log pi(action) [...], entropy H(pi) [...]) of the categorical pi = softmax(logits).

    logits: float32 [..., A], masked ones at a large finite negative value (ppo.network's
    MASKED_LOGIT: -inf would make 0 * -inf a NaN in H); actions: int [...], 0 <= a < A.
    Values equal `log_softmax(logits)[a]` and `-sum(pi * log pi)` up to float rounding.

    Differentiable in `logits` by a hand-written VJP: autodiff of log_softmax, the one-hot
    select and the entropy makes ~10 passes over [..., A]; this makes two forward (the row
    max; one exponential with three row sums) and one backward, from the textbook
    derivatives d log pi(a)/dz_k = [k = a] - pi_k and dH/dz_k = -pi_k (log pi_k + H)
    (docs/THROUGHPUT.md, P14).
    """
    return _policy_terms_fwd(logits, actions)[0]


def _policy_terms_fwd(logits: jax.Array, actions: jax.Array) -> tuple[tuple, tuple]:
    e, log_sum, z = softmax_parts(logits)
    log_total = log_sum[..., 0]
    logp = select_logp(z, actions) - log_total
    # H = log sum e^z - sum pi z: no log pi array is formed.
    entropy = log_total - jnp.sum(e * z, axis=-1) / jnp.sum(e, axis=-1)
    return (logp, entropy), (z, log_total, entropy, actions)


def _policy_terms_bwd(res: tuple, g: tuple) -> tuple[jax.Array, None]:
    z, log_total, entropy, actions = res
    g_logp, g_ent = g[0][..., None], g[1][..., None]
    logp_all = z - log_total[..., None]
    probs = jnp.exp(logp_all)
    hit = jnp.arange(z.shape[-1]) == actions.astype(jnp.int32)[..., None]
    d = jnp.where(hit, g_logp, 0.0) - probs * (g_logp + g_ent * (logp_all + entropy[..., None]))
    return d, None


policy_terms.defvjp(_policy_terms_fwd, _policy_terms_bwd)


class LossParts(NamedTuple):
    """The loss terms and diagnostics of one minibatch."""

    policy: jax.Array
    value: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_frac: jax.Array


def ppo_loss(
    logits: jax.Array,
    values: jax.Array,
    actions: jax.Array,
    old_logp: jax.Array,
    old_values: jax.Array,
    advantages: jax.Array,
    returns: jax.Array,
    clip: float,
    vf_coef: float,
    ent_coef: float,
) -> tuple[jax.Array, LossParts]:
    """Clipped PPO objective for one minibatch; `logits` already masked where masking is on.

    Advantages are normalised per minibatch; the value loss is clipped like the policy.
    """
    logp, entropy_rows = policy_terms(logits, actions)
    log_ratio = logp - old_logp
    ratio = jnp.exp(log_ratio)
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    pg1 = ratio * adv
    pg2 = jnp.clip(ratio, 1.0 - clip, 1.0 + clip) * adv
    policy = -jnp.minimum(pg1, pg2).mean()

    v_clipped = old_values + jnp.clip(values - old_values, -clip, clip)
    v_loss = 0.5 * jnp.maximum((values - returns) ** 2, (v_clipped - returns) ** 2).mean()

    entropy = entropy_rows.mean()
    total = policy + vf_coef * v_loss - ent_coef * entropy

    approx_kl = ((ratio - 1.0) - log_ratio).mean()
    clip_frac = (jnp.abs(ratio - 1.0) > clip).astype(jnp.float32).mean()
    return total, LossParts(policy, v_loss, entropy, approx_kl, clip_frac)


def explained_variance(values: jax.Array, returns: jax.Array) -> jax.Array:
    """1 - Var(returns - values) / Var(returns); NaN-free (0 when returns are constant)."""
    var_r = returns.var()
    ev = 1.0 - (returns - values).var() / jnp.where(var_r > 0, var_r, 1.0)
    return jnp.where(var_r > 0, ev, 0.0)
