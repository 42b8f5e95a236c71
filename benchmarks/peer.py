"""A textbook PPO loop in the PureJaxRL `make_train` shape, on `CaravanEnv`: the speed peer.

Written plainly, the way a newcomer writes a JAX PPO: rollout `lax.scan` over a vmapped
`env.step` with per-env keys, a reverse GAE scan, then epochs x minibatches of Adam over
`jnp.take` of a permutation of the whole batch, the categorical distribution from logits
(`jax.random.categorical`, `log_softmax`). Same network (shared MLP trunk, ReLU, orthogonal
init, policy and value heads), geometry, optimiser (global-norm clip + Adam eps 1e-5) and
action masking as ppo's defaults, so ppo's window can be timed against it at equal work.

`make_update_loop(cfg)` returns `(init_fn, loop_fn)`: `loop_fn(state) -> (state, metrics)`
runs `cfg.updates` PPO updates under one `lax.scan` (one ppo window's worth of work).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from envjax import CaravanEnv


@dataclass(frozen=True)
class PeerConfig:
    """Geometry and PPO hyper-parameters (ppo.config.TrainConfig's defaults by default)."""

    num_envs: int = 8192
    rollout_steps: int = 64
    updates: int = 8  # PPO updates per compiled call
    epochs: int = 2
    minibatches: int = 16
    lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_scale: float = 0.1
    hidden: int = 128
    layers: int = 2
    action_masking: bool = True
    seed: int = 0

    @classmethod
    def from_train_config(cls, tc: Any) -> PeerConfig:
        """The peer at a ppo TrainConfig's network, geometry and learning rule."""
        return cls(
            num_envs=tc.num_envs,
            rollout_steps=tc.rollout_steps,
            updates=tc.updates_per_window,
            epochs=tc.epochs,
            minibatches=tc.minibatches,
            lr=tc.lr,
            gamma=tc.gamma,
            gae_lambda=tc.gae_lambda,
            clip=tc.clip,
            ent_coef=tc.ent_coef,
            vf_coef=tc.vf_coef,
            max_grad_norm=tc.max_grad_norm,
            reward_scale=tc.reward_scale,
            hidden=tc.hidden,
            layers=tc.layers,
            action_masking=tc.action_masking,
            seed=tc.seed,
        )


class Net(nn.Module):
    """obs [..., 260] -> (logits [..., n_actions], value [...])."""

    n_actions: int
    hidden: int
    layers: int

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        for _ in range(self.layers):
            x = nn.relu(
                nn.Dense(self.hidden, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x)
            )
        logits = nn.Dense(self.n_actions, kernel_init=nn.initializers.orthogonal(0.01))(x)
        value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(x)
        return logits, jnp.squeeze(value, -1)


class Transition(NamedTuple):
    done: jax.Array
    action: jax.Array
    value: jax.Array
    reward: jax.Array
    log_prob: jax.Array
    obs: jax.Array
    episode_return: jax.Array
    episode_done: jax.Array


class PeerState(NamedTuple):
    params: Any
    opt_state: Any
    env_state: Any
    obs: jax.Array
    rng: jax.Array


def make_update_loop(cfg: PeerConfig):
    """(init_fn() -> PeerState, loop_fn(PeerState) -> (PeerState, metrics)), both jittable."""
    env = CaravanEnv()
    env_params = env.default_params
    n_actions = env.num_actions
    net = Net(n_actions, cfg.hidden, cfg.layers)
    batch = cfg.num_envs * cfg.rollout_steps
    mb_size = batch // cfg.minibatches
    tx = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(cfg.lr, eps=1e-5))

    def dist_logits(params: Any, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits, value = net.apply(params, obs)
        if cfg.action_masking:
            logits = jnp.where(obs[..., :n_actions] > 0.5, logits, -1e9)
        return logits, value

    def init_fn() -> PeerState:
        rng = jax.random.PRNGKey(cfg.seed)
        rng, k_net, k_env = jax.random.split(rng, 3)
        params = net.init(k_net, jnp.zeros((1, env.observation_shape()[0]), jnp.float32))
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_env, cfg.num_envs), env_params
        )
        return PeerState(params, tx.init(params), env_state, obs, rng)

    def env_step(runner: PeerState, _: None) -> tuple[PeerState, Transition]:
        params, opt_state, env_state, last_obs, rng = runner
        rng, k_act, k_step = jax.random.split(rng, 3)
        logits, value = dist_logits(params, last_obs)
        action = jax.random.categorical(k_act, logits)
        log_prob = jnp.take_along_axis(
            jax.nn.log_softmax(logits), action[:, None], axis=-1
        ).squeeze(-1)
        obs, env_state, reward, term, trunc, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_step, cfg.num_envs), env_state, action, env_params
        )
        t = Transition(
            term | trunc,
            action,
            value,
            reward * cfg.reward_scale,
            log_prob,
            last_obs,
            info["episode_return"],
            info["episode_done"],
        )
        return PeerState(params, opt_state, env_state, obs, rng), t

    def calculate_gae(traj: Transition, last_val: jax.Array) -> tuple[jax.Array, jax.Array]:
        def step(carry, t):
            gae, next_value = carry
            nd = 1.0 - t.done.astype(jnp.float32)
            delta = t.reward + cfg.gamma * next_value * nd - t.value
            gae = delta + cfg.gamma * cfg.gae_lambda * nd * gae
            return (gae, t.value), gae

        _, adv = jax.lax.scan(
            step, (jnp.zeros_like(last_val), last_val), traj, reverse=True, unroll=16
        )
        return adv, adv + traj.value

    def loss_fn(params: Any, traj: Transition, adv: jax.Array, targets: jax.Array):
        logits, value = dist_logits(params, traj.obs)
        logp_all = jax.nn.log_softmax(logits)
        log_prob = jnp.take_along_axis(logp_all, traj.action[:, None], axis=-1).squeeze(-1)
        v_clip = traj.value + (value - traj.value).clip(-cfg.clip, cfg.clip)
        v_loss = 0.5 * jnp.maximum((value - targets) ** 2, (v_clip - targets) ** 2).mean()
        ratio = jnp.exp(log_prob - traj.log_prob)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        a1 = ratio * adv
        a2 = jnp.clip(ratio, 1.0 - cfg.clip, 1.0 + cfg.clip) * adv
        pg = -jnp.minimum(a1, a2).mean()
        entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
        total = pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
        return total, (v_loss, pg, entropy)

    def update_minibatch(train_state, mb):
        params, opt_state = train_state
        traj, adv, targets = mb
        (total, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, traj, adv, targets)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), total

    def update_epoch(carry, _):
        params, opt_state, traj, adv, targets, rng = carry
        rng, k_perm = jax.random.split(rng)
        perm = jax.random.permutation(k_perm, batch)
        data = (traj, adv, targets)
        data = jax.tree.map(lambda x: x.reshape((batch, *x.shape[2:])), data)
        shuffled = jax.tree.map(lambda x: jnp.take(x, perm, axis=0), data)
        mbs = jax.tree.map(lambda x: x.reshape((cfg.minibatches, mb_size, *x.shape[1:])), shuffled)
        (params, opt_state), losses = jax.lax.scan(update_minibatch, (params, opt_state), mbs)
        return (params, opt_state, traj, adv, targets, rng), losses

    def update_step(runner: PeerState, _: None):
        runner, traj = jax.lax.scan(env_step, runner, None, length=cfg.rollout_steps)
        params, opt_state, env_state, last_obs, rng = runner
        _, last_val = dist_logits(params, last_obs)
        adv, targets = calculate_gae(traj, last_val)
        (params, opt_state, _, _, _, rng), losses = jax.lax.scan(
            update_epoch, (params, opt_state, traj, adv, targets, rng), None, length=cfg.epochs
        )
        ep = traj.episode_done.astype(jnp.float32)
        metrics = {
            "loss": losses.mean(),
            "episodes": ep.sum(),
            "mean_return": (traj.episode_return * ep).sum() / jnp.maximum(ep.sum(), 1.0),
        }
        return PeerState(params, opt_state, env_state, last_obs, rng), metrics

    def loop_fn(runner: PeerState) -> tuple[PeerState, dict[str, jax.Array]]:
        return jax.lax.scan(update_step, runner, None, length=cfg.updates)

    return init_fn, loop_fn


def compiled(cfg: PeerConfig):
    """(initial state, compiled loop with the state donated, compile seconds)."""
    import time

    init_fn, loop_fn = make_update_loop(cfg)
    state = jax.jit(init_fn)()
    t0 = time.perf_counter()
    fn = jax.jit(loop_fn, donate_argnums=0).lower(state).compile()
    return state, fn, time.perf_counter() - t0
