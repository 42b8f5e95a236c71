"""The fused training program: one jitted call runs one window of K PPO updates.

Each update is a rollout (vmapped `env.step` under `lax.scan`), GAE, then epochs x
minibatches of Adam steps; K updates run under one outer `lax.scan`. Per-step env info is
reduced to a few sums inside the loop, so the host only ever sees K small metric rows.

Layout: every runner-state leaf has a leading seed axis [S] (`--num-seeds`, vmapped).
Env-side leaves (env state, last obs, RNG) then have a device-sharded axis: envs [S, E, ...]
and RNG keys [S, D, 2], split across the devices of a 1-D mesh with `jax.shard_map`;
params and optimiser state are replicated and gradients are averaged with `pmean`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ppo.config import Derived, TrainConfig
from ppo.losses import explained_variance, gae, ppo_loss
from ppo.network import ActorCritic, apply_mask, sample_actions

AXIS = "d"
N_KINDS = 4  # wait, travel, buy, sell


class Runner(NamedTuple):
    """Everything that carries from one window to the next (and into checkpoints)."""

    params: Any
    opt_state: Any
    env_state: Any  # [S, E, ...], sharded on E
    obs: jax.Array  # [S, E, OBS_DIM], sharded on E
    rng: jax.Array  # [S, D, 2] uint32, one key per device
    update: jax.Array  # [S] int32, global update index of the next update


class UpdateStats(NamedTuple):
    """Per-update aggregates (sums and means), reduced over devices inside the program."""

    policy: jax.Array
    value: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_frac: jax.Array
    explained_variance: jax.Array
    lr: jax.Array
    grad_norm: jax.Array
    episodes: jax.Array  # episodes that ended in this update's rollout
    return_sum: jax.Array
    profit_sum: jax.Array
    survived_sum: jax.Array
    length_sum: jax.Array
    invalid_steps: jax.Array
    steps: jax.Array
    kind_counts: jax.Array  # [N_KINDS]
    params_finite: jax.Array


def make_network(cfg: TrainConfig, n_actions: int) -> ActorCritic:
    """The run's network."""
    return ActorCritic(n_actions=n_actions, hidden=cfg.hidden, layers=cfg.layers)


def lr_schedule(cfg: TrainConfig, der: Derived) -> Callable[[jax.Array], jax.Array]:
    """Learning rate as a function of the optimiser's step count."""
    steps_per_update = cfg.epochs * cfg.minibatches
    if not cfg.anneal_lr:
        return lambda count: jnp.asarray(cfg.lr, jnp.float32)
    total = der.total_updates * steps_per_update
    return lambda count: (
        jnp.asarray(cfg.lr, jnp.float32) * jnp.maximum(1.0 - count.astype(jnp.float32) / total, 0.0)
    )


def make_optimizer(cfg: TrainConfig, der: Derived) -> optax.GradientTransformation:
    """Adam with global-norm clipping; the schedule is evaluated from Adam's own count."""
    return optax.chain(
        optax.clip_by_global_norm(cfg.max_grad_norm),
        optax.scale_by_adam(eps=1e-5),
        optax.scale_by_schedule(lambda c: -lr_schedule(cfg, der)(c)),
    )


def make_mesh(num_devices: int) -> Mesh:
    """1-D mesh over the first `num_devices` devices."""
    return Mesh(jax.devices()[:num_devices], (AXIS,))


def runner_specs(runner: Runner) -> Runner:
    """PartitionSpecs of the runner: env-side leaves split on their env/device axis."""
    rep = jax.tree.map(lambda _: P(), runner.params)
    rep_opt = jax.tree.map(lambda _: P(), runner.opt_state)
    env = jax.tree.map(lambda _: P(None, AXIS), runner.env_state)
    return Runner(rep, rep_opt, env, P(None, AXIS), P(None, AXIS), P())


def init_runner(
    cfg: TrainConfig,
    der: Derived,
    env: Any,
    env_params: Any,
    mesh: Mesh,
    obs_dim: int,
    n_actions: int,
) -> Runner:
    """Initial runner state for every seed, placed with the run's shardings."""
    net = make_network(cfg, n_actions)
    tx = make_optimizer(cfg, der)
    s, e, d = cfg.num_seeds, cfg.num_envs, der.num_devices

    def one_seed(seed_index: jax.Array) -> Runner:
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), seed_index)
        k_net, k_env, k_run = jax.random.split(key, 3)
        params = net.init(k_net, jnp.zeros((1, obs_dim), jnp.float32))
        opt_state = tx.init(params)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_env, e), env_params
        )
        rng = jax.random.split(k_run, d)
        return Runner(params, opt_state, env_state, obs, rng, jnp.int32(0))

    abstract = jax.eval_shape(jax.vmap(one_seed), jnp.arange(s))
    shardings = jax.tree.map(lambda sp: NamedSharding(mesh, sp), runner_specs(abstract))
    del abstract
    return jax.jit(jax.vmap(one_seed), out_shardings=shardings)(jnp.arange(s))


def make_window_fn(
    cfg: TrainConfig,
    der: Derived,
    env: Any,
    env_params: Any,
    mesh: Mesh,
    runner: Runner,
    n_actions: int,
) -> Callable[[Runner], tuple[Runner, UpdateStats]]:
    """The jitted window program: Runner -> (Runner, UpdateStats with leaves [S, K, ...]).

    The input runner is donated: its buffers are reused for the output.
    """
    net = make_network(cfg, n_actions)
    tx = make_optimizer(cfg, der)
    sched = lr_schedule(cfg, der)
    t_len, e_loc = cfg.rollout_steps, der.envs_per_device
    n_mb = cfg.minibatches
    mb_size = t_len * e_loc // n_mb
    multi = der.num_devices > 1

    def pmean(x: Any) -> Any:
        return jax.lax.pmean(x, AXIS) if multi else x

    def psum(x: Any) -> Any:
        return jax.lax.psum(x, AXIS) if multi else x

    def policy(params: Any, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits, value = net.apply(params, obs)
        if cfg.action_masking:
            logits = apply_mask(logits, obs[..., :n_actions] > 0.5)
        return logits, value

    def rollout_step(carry: tuple, _: None) -> tuple[tuple, tuple]:
        params, env_state, obs, key, acc = carry
        key, k_act, k_env = jax.random.split(key, 3)
        logits, value = policy(params, obs)
        action = sample_actions(logits, k_act)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], axis=-1)[:, 0]
        # One step key shared by all envs: Caravan's randomness lives in the env state
        # (per-episode seeds), so per-env keys would only cost threefry work.
        obs2, env_state2, reward, term, trunc, info = jax.vmap(
            env.step, in_axes=(None, 0, 0, None)
        )(k_env, env_state, action, env_params)
        done = term | trunc
        ep = info["episode_done"]
        epf = ep.astype(jnp.float32)
        acc = (
            acc[0] + epf.sum(),
            acc[1] + jnp.where(ep, info["episode_return"], 0.0).sum(),
            acc[2] + jnp.where(ep, info["episode_profit"], 0.0).sum(),
            acc[3] + (ep & info["episode_survived"]).astype(jnp.float32).sum(),
            acc[4] + jnp.where(ep, info["episode_length"], 0).astype(jnp.float32).sum(),
            acc[5] + info["invalid"].astype(jnp.float32).sum(),
            acc[6] + jnp.bincount(info["action_kind"], length=N_KINDS).astype(jnp.float32),
        )
        return (params, env_state2, obs2, key, acc), (
            obs,
            action,
            logp,
            value,
            reward * cfg.value_target_scale,
            done,
        )

    def loss_fn(params: Any, mb: tuple) -> tuple[jax.Array, Any]:
        obs, action, logp, value, adv, ret = mb
        logits, v = policy(params, obs)
        return ppo_loss(
            logits, v, action, logp, value, adv, ret, cfg.clip, cfg.vf_coef, cfg.ent_coef
        )

    def minibatch_step(carry: tuple, mb: tuple) -> tuple[tuple, tuple]:
        params, opt_state = carry
        (_, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, mb)
        grads = pmean(grads)
        gnorm = optax.tree.norm(grads)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (parts, gnorm)

    def epoch_step(carry: tuple, key: jax.Array) -> tuple[tuple, tuple]:
        params, opt_state, batch = carry
        perm = jax.random.permutation(key, t_len * e_loc)
        shuffled = jax.tree.map(
            lambda x: jnp.take(x, perm, axis=0).reshape((n_mb, mb_size, *x.shape[1:])), batch
        )
        (params, opt_state), out = jax.lax.scan(minibatch_step, (params, opt_state), shuffled)
        return (params, opt_state, batch), out

    def update_step(carry: tuple, _: None) -> tuple[tuple, UpdateStats]:
        params, opt_state, env_state, obs, key, update = carry
        key, k_roll, k_epochs = jax.random.split(key, 3)
        zero = jnp.zeros((), jnp.float32)
        acc0 = (zero, zero, zero, zero, zero, zero, jnp.zeros((N_KINDS,), jnp.float32))
        (params, env_state, obs, _, acc), traj = jax.lax.scan(
            rollout_step, (params, env_state, obs, k_roll, acc0), None, length=t_len
        )
        t_obs, t_act, t_logp, t_val, t_rew, t_done = traj
        _, last_value = policy(params, obs)
        adv, ret = gae(t_rew, t_val, t_done, last_value, cfg.gamma, cfg.gae_lambda)
        ev = pmean(explained_variance(t_val, ret))
        lr = sched(opt_state[2].count)  # the schedule's count before this update's steps
        flat = jax.tree.map(
            lambda x: x.reshape((t_len * e_loc, *x.shape[2:])),
            (t_obs, t_act, t_logp, t_val, adv, ret),
        )
        (params, opt_state, _), (parts, gnorm) = jax.lax.scan(
            epoch_step, (params, opt_state, flat), jax.random.split(k_epochs, cfg.epochs)
        )
        parts = jax.tree.map(lambda x: pmean(x.mean()), parts)
        acc = psum(acc)
        stats = UpdateStats(
            policy=parts.policy,
            value=parts.value,
            entropy=parts.entropy,
            approx_kl=parts.approx_kl,
            clip_frac=parts.clip_frac,
            explained_variance=ev,
            lr=lr,
            grad_norm=gnorm.mean(),
            episodes=acc[0],
            return_sum=acc[1],
            profit_sum=acc[2],
            survived_sum=acc[3],
            length_sum=acc[4],
            invalid_steps=acc[5],
            steps=jnp.float32(der.batch_size),
            kind_counts=acc[6],
            params_finite=jnp.bool_(True),
        )
        return (params, opt_state, env_state, obs, key, update + 1), stats

    def one_seed_window(r: Runner) -> tuple[Runner, UpdateStats]:
        key = r.rng[0]
        carry = (r.params, r.opt_state, r.env_state, r.obs, key, r.update)
        carry, stats = jax.lax.scan(update_step, carry, None, length=cfg.updates_per_window)
        params, opt_state, env_state, obs, key, update = carry
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)]))
        stats = stats._replace(params_finite=jnp.broadcast_to(finite, stats.policy.shape))
        return Runner(params, opt_state, env_state, obs, key[None], update), stats

    def local_window(r: Runner) -> tuple[Runner, UpdateStats]:
        return jax.vmap(one_seed_window)(r)

    specs = runner_specs(runner)
    stat_specs = UpdateStats(*([P()] * len(UpdateStats._fields)))
    sharded = jax.shard_map(
        local_window,
        mesh=mesh,
        in_specs=(specs,),
        out_specs=(specs, stat_specs),
        # The replicated outputs are made equal explicitly (pmean/psum) above.
        check_vma=False,
    )
    return jax.jit(sharded, donate_argnums=0)
