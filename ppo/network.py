"""Actor-critic network: one shared MLP trunk with a policy head and a value head."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

# A large finite negative logit for masked actions: exp() underflows to exactly 0 and, unlike
# -inf, 0 * logit stays 0 in the entropy.
MASKED_LOGIT = -1e9


class ActorCritic(nn.Module):
    """obs float32[..., OBS_DIM] -> (logits float32[..., n_actions], value float32[...])."""

    n_actions: int
    hidden: int = 128
    layers: int = 2

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = obs
        for i in range(self.layers):
            x = nn.Dense(
                self.hidden,
                kernel_init=nn.initializers.orthogonal(np.sqrt(2)),
                bias_init=nn.initializers.zeros,
                name=f"trunk_{i}",
            )(x)
            x = nn.relu(x)
        # Both heads in one [hidden, n_actions + 1] matmul: a 1-column value matmul is a
        # matrix-vector product, memory-bound over the activations in forward and backward.
        # The parameters keep the layout of two Dense layers named pi and v.
        k_pi, b_pi = _DenseParams(self.n_actions, 0.01, name="pi")(x.shape[-1])
        k_v, b_v = _DenseParams(1, 1.0, name="v")(x.shape[-1])
        out = x @ jnp.concatenate([k_pi, k_v], axis=1) + jnp.concatenate([b_pi, b_v])
        return out[..., : self.n_actions], out[..., self.n_actions]


class _DenseParams(nn.Module):
    """The kernel [in, features] and bias [features] of a Dense layer, without applying it."""

    features: int
    scale: float

    @nn.compact
    def __call__(self, fan_in: int) -> tuple[jax.Array, jax.Array]:
        kernel = self.param(
            "kernel", nn.initializers.orthogonal(self.scale), (fan_in, self.features)
        )
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return kernel, bias


def live_obs_width(obs_dim: int, live: int) -> int:
    """Observation columns a trainer stores: the `live` leading ones (the rest are reserved,
    always exactly 0) rounded up to a multiple of 8 floats, capped at `obs_dim`.

    Whole 32-byte rows make XLA's CPU row gathers and copies vectorise without a remainder
    loop (docs/THROUGHPUT.md, P10).
    """
    return min(obs_dim, -(-live // 8) * 8)


def with_input_width(params: dict, width: int) -> dict:
    """`params` of an ActorCritic whose first trunk layer reads only its first `width` inputs
    (kernel [obs_dim, H] cut to [width, H]; nothing copied when width == obs_dim).

    `apply` with these params on obs[..., :width] equals apply with the full params on obs
    whenever obs[..., width:] is 0: the dropped products are exactly 0. Gradients through the
    cut reach the full kernel, with exactly zero rows for the dropped inputs, as they would be.
    """
    p = params["params"]
    kernel = p["trunk_0"]["kernel"]
    if kernel.shape[0] == width:
        return params
    return {**params, "params": {**p, "trunk_0": {**p["trunk_0"], "kernel": kernel[:width]}}}


def apply_mask(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Invalid actions (mask False) get MASKED_LOGIT."""
    return jnp.where(mask, logits, MASKED_LOGIT)


def sample_actions(logits: jax.Array, key: jax.Array) -> jax.Array:
    """Sample one action per row of `logits` by inverse CDF.

    One uniform per row instead of Gumbel noise per logit (69x fewer random numbers in the
    hot loop). u is drawn in (0, 1], so an action of probability 0 is never chosen.
    """
    probs = jax.nn.softmax(logits, axis=-1)
    cdf = cumsum_last(probs)
    u = 1.0 - jax.random.uniform(key, logits.shape[:-1], dtype=logits.dtype)
    target = u[..., None] * cdf[..., -1:]
    idx = jnp.sum(cdf < target, axis=-1)
    return jnp.minimum(idx, logits.shape[-1] - 1).astype(jnp.int32)


def cumsum_last(x: jax.Array) -> jax.Array:
    """Cumulative sum over the last axis (float [..., n] -> same), as one matmul with an
    upper-triangular 0/1 [n, n] matrix.

    jnp.cumsum lowers to an O(n^2) reduce_window on XLA's CPU backend; the matmul runs at the
    matmul rate (docs/THROUGHPUT.md, P9). Summation order differs from a sequential scan, so
    results may differ in the last bit. For non-negative x, column j+1 sums the terms of
    column j in the same order with one zero term replaced by x[j+1] >= 0, so the result is
    non-decreasing along the axis, as an inverse-CDF draw needs (an action of probability 0 is
    never chosen).
    """
    n = x.shape[-1]
    upper = jnp.triu(jnp.ones((n, n), x.dtype))
    return jnp.matmul(x, upper, precision=jax.lax.Precision.HIGHEST)


def softmax_parts(logits: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(exp(z) [..., n], log(sum exp(z)) [..., 1], z [..., n]) with z = logits - max(logits),
    the max held constant under differentiation (as in jax.nn.log_softmax).

    log-softmax is z - log_sum and the probabilities are exp(z) / sum: one exponential per
    logit serves both (jax.nn.log_softmax followed by exp() costs two). For the rollout's
    draw and the forward pass of ppo.losses.policy_terms, whose gradient is written by hand:
    differentiated by autodiff, the same rewrite made the loss's backward pass slower
    (docs/THROUGHPUT.md, P13). Masked logits (MASKED_LOGIT) give exp(z) == 0 exactly.
    """
    z = logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    e = jnp.exp(z)
    return e, jnp.log(jnp.sum(e, axis=-1, keepdims=True)), z


def sample_with_logp(logits: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(action int32 [...], its log-probability [...]) with one exponential per logit.

    The inverse-CDF draw of `sample_actions` (one uniform per row) on the unnormalised
    exp(logits - max): the comparison scales the uniform by the row's total, so no division
    is needed.
    """
    e, log_sum, z = softmax_parts(logits)
    cdf = cumsum_last(e)
    u = 1.0 - jax.random.uniform(key, logits.shape[:-1], dtype=logits.dtype)
    idx = jnp.sum(cdf < (u[..., None] * cdf[..., -1:]), axis=-1)
    action = jnp.minimum(idx, logits.shape[-1] - 1).astype(jnp.int32)
    return action, select_logp(z, action) - log_sum[..., 0]


def select_logp(logp_all: jax.Array, action: jax.Array) -> jax.Array:
    """logp_all[..., action] by a one-hot select: its gradient is elementwise (no scatter)."""
    # int32 compare: an index array in the action's dtype would wrap for a narrow one (uint8).
    hit = jnp.arange(logp_all.shape[-1]) == action.astype(jnp.int32)[..., None]
    return jnp.sum(jnp.where(hit, logp_all, 0.0), axis=-1)


def flops_per_forward(obs_dim: int, n_actions: int, hidden: int, layers: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass for one observation."""
    macs = obs_dim * hidden + (layers - 1) * hidden * hidden + hidden * (n_actions + 1)
    return 2 * macs
