"""The fused training program: one jitted call runs one window of K PPO updates.

Each update is a rollout (vmapped `env.step` under `lax.scan`), GAE, then epochs x
minibatches of Adam steps; K updates run under one outer `lax.scan`. Per-step env info is
reduced to a few sums inside the loop, so the host only ever sees K small metric rows.

Layout: every runner-state leaf has a leading seed axis [S] (`--num-seeds`, vmapped; with
one seed the axis is dropped inside the program instead, so XLA sees unbatched dots).
Env-side leaves (env state, last obs, RNG) then have a device-sharded axis: envs [S, E, ...]
and RNG keys [S, D, 2], split across the devices of a 1-D mesh with `jax.shard_map`;
params and optimiser state are replicated and gradients are averaged with `pmean`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from envjax.constants import ACTION_KIND_NAMES, OBS_DIM, OBS_RESERVED, action_mask_from_obs
from ppo.config import Derived, TrainConfig
from ppo.losses import explained_variance, gae, ppo_loss
from ppo.network import (
    ActorCritic,
    apply_mask,
    live_obs_width,
    sample_with_logp,
    with_input_width,
)

AXIS = "d"
# Observation columns held in the rollout buffer and gathered per minibatch: the live ones
# (OBS_RESERVED, 237-259, is always exactly 0; docs/ENV_SPEC.md section 8) rounded up to a
# multiple of 8 floats: 240. The network reads them with its first kernel's first 240 rows:
# the same function, 8 % fewer bytes and first-layer FLOPs (docs/THROUGHPUT.md, P10).
STORED_OBS = live_obs_width(OBS_DIM, OBS_RESERVED.start)
N_KINDS = len(ACTION_KIND_NAMES)  # wait, travel, buy, sell


class Runner(NamedTuple):
    """Everything that carries from one window to the next (and into checkpoints)."""

    params: Any
    opt_state: Any
    env_state: Any  # [S, E, ...], sharded on E
    obs: jax.Array  # [S, E, OBS_DIM], sharded on E
    rng: jax.Array  # [S, D, 2] uint32, one key per device
    update: jax.Array  # [S] int32, global update index of the next update


class RolloutAcc(NamedTuple):
    """Sums of one update's per-step env info: float32 scalars, kind_counts [N_KINDS]."""

    episodes: jax.Array  # episodes that ended
    return_sum: jax.Array
    profit_sum: jax.Array
    survived_sum: jax.Array
    length_sum: jax.Array
    invalid_steps: jax.Array
    kind_counts: jax.Array  # [N_KINDS]: wait, travel, buy, sell

    @classmethod
    def zeros(cls) -> RolloutAcc:
        z = jnp.zeros((), jnp.float32)
        return cls(z, z, z, z, z, z, jnp.zeros((N_KINDS,), jnp.float32))

    def add(self, info: dict[str, jax.Array]) -> RolloutAcc:
        """Add one batched step's info ([E] leaves)."""
        ep = info["episode_done"]
        return RolloutAcc(
            episodes=self.episodes + ep.astype(jnp.float32).sum(),
            return_sum=self.return_sum + jnp.where(ep, info["episode_return"], 0.0).sum(),
            profit_sum=self.profit_sum + jnp.where(ep, info["episode_profit"], 0.0).sum(),
            survived_sum=self.survived_sum
            + (ep & info["episode_survived"]).astype(jnp.float32).sum(),
            length_sum=self.length_sum
            + jnp.where(ep, info["episode_length"], 0).astype(jnp.float32).sum(),
            invalid_steps=self.invalid_steps + info["invalid"].astype(jnp.float32).sum(),
            kind_counts=self.kind_counts
            + jnp.bincount(info["action_kind"], length=N_KINDS).astype(jnp.float32),
        )


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


def schedule_count(opt_state: Any) -> jax.Array:
    """The learning-rate schedule's step count in `make_optimizer`'s state (int32 scalar).

    Found by the state's type, not its position in the chain.
    """
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=_is_sched) if _is_sched(s)]
    if len(found) != 1:
        raise ValueError(
            f"expected one ScaleByScheduleState in the optimiser state, got {len(found)}"
        )
    return found[0].count


def _is_sched(x: Any) -> bool:
    return isinstance(x, optax.ScaleByScheduleState)


def make_mesh(num_devices: int) -> Mesh:
    """1-D mesh over the first `num_devices` devices."""
    return Mesh(jax.devices()[:num_devices], (AXIS,))


def runner_specs(runner: Runner) -> Runner:
    """PartitionSpecs of the runner: env-side leaves split on their env/device axis."""
    rep = jax.tree.map(lambda _: P(), runner.params)
    rep_opt = jax.tree.map(lambda _: P(), runner.opt_state)
    env = jax.tree.map(lambda _: P(None, AXIS), runner.env_state)
    return Runner(rep, rep_opt, env, P(None, AXIS), P(None, AXIS), P())  # type: ignore[arg-type]


def seed_keys(cfg: TrainConfig, seed_index: jax.Array) -> jax.Array:
    """The keys of seed `seed_index` of a launch: [3] keys for the network, the envs and the
    runner's RNG, from `cfg.seed`."""
    return jax.random.split(jax.random.fold_in(jax.random.PRNGKey(cfg.seed), seed_index), 3)


def seed_params_fn(cfg: TrainConfig, n_actions: int, obs_dim: int) -> Callable:
    """Jitted `seed_index (int32 scalar) -> initial network params` of one seed.

    One seed per call, never vmapped over seeds: see `init_runner`.
    """
    net = make_network(cfg, n_actions)

    def seed_params(seed_index: jax.Array) -> Any:
        return net.init(seed_keys(cfg, seed_index)[0], jnp.zeros((1, obs_dim), jnp.float32))

    return jax.jit(seed_params)


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
    tx = make_optimizer(cfg, der)
    s, e, d = cfg.num_seeds, cfg.num_envs, der.num_devices

    def one_seed(seed_index: jax.Array, params: Any) -> Runner:
        _, k_env, k_run = seed_keys(cfg, seed_index)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_env, e), env_params
        )
        rng = jax.random.split(k_run, d)
        return Runner(params, tx.init(params), env_state, obs, rng, jnp.int32(0))

    # The orthogonal init's QR runs one seed per call: vmapped over seeds it becomes a batched
    # LAPACK call that splits its batch over XLA's CPU thread pool and waits for it, and two
    # such calls at once can take every pool thread and wait forever (seen on 2 cores with
    # --num-seeds 3; docs/TRAINING.md "A wedged run"). Same values: the batched kernel runs
    # the same factorisation per matrix.
    init_params = seed_params_fn(cfg, n_actions, obs_dim)
    per_seed = [init_params(jnp.int32(i)) for i in range(s)]
    params = jax.tree.map(lambda *x: jnp.stack(x), *per_seed)
    seeds = jnp.arange(s)
    abstract = jax.eval_shape(jax.vmap(one_seed), seeds, params)
    shardings = jax.tree.map(lambda sp: NamedSharding(mesh, sp), runner_specs(abstract))
    del abstract
    return jax.jit(jax.vmap(one_seed), out_shardings=shardings)(seeds, params)


def stored_width(obs_dim: int) -> int:
    """Observation columns the trainer stores for an env with `obs_dim` of them: STORED_OBS
    for Caravan's layout (obs_dim == OBS_DIM, columns past it reserved and 0), all of them for
    any other env given to `train(env=...)` (nothing is known to be 0 there)."""
    return STORED_OBS if obs_dim == OBS_DIM else obs_dim


def stored_obs(obs: jax.Array, width: int = STORED_OBS) -> jax.Array:
    """The stored columns of observations: [..., obs_dim] -> [..., width] (a no-op on
    stored ones)."""
    return obs[..., :width]


def random_permutation(key: jax.Array, n: int) -> jax.Array:
    """A uniform random permutation of range(n), int32 [n] (n < 2**31).

    The indices ordered by 32-bit random keys, ties (~n^2/2^33 pairs) in index order: exactly
    `argsort(bits)` (stable). Sorted as one array of 64-bit keys `bits << 32 | index`, whose
    low half is the permutation: XLA's CPU sort of one integer operand is ~6x faster than
    argsort's two-operand sort (docs/THROUGHPUT.md, P8). One sort instead of
    jax.random.permutation's two rounds.
    """
    bits = jax.random.bits(key, (n,), jnp.uint32)
    with jax.enable_x64(True):  # uint64 keys inside this function only
        keys = (bits.astype(jnp.uint64) << 32) | jnp.arange(n, dtype=jnp.uint64)
        return (jnp.sort(keys) & jnp.uint64(0xFFFFFFFF)).astype(jnp.int32)


class Parts(NamedTuple):
    """The pieces of one update, as the window program composes them (timed one by one by
    `python -m benchmarks.breakdown`). Shapes are per device and per seed: E envs, T steps."""

    policy: Callable  # (params, obs [..., OBS]) -> (masked logits [..., A], value [...])
    act: Callable  # (logits [E, A], key) -> (action int32 [E], logp [E])
    env_step: Callable  # (key, env_state, action [E]) -> (obs, env_state, reward, done, info)
    rollout: Callable  # (params, env_state, obs, key, obs_buf) -> ((env_state, obs, acc), Traj)
    advantages: Callable  # (params, traj, last obs) -> ((obs [T*E, W], scalars [T*E, 8]), ev)
    shuffle: Callable  # key -> minibatch chunk-index rows int32 [M, T*E/(M*C)], C = chunk
    gather: Callable  # (flat batch, chunk-index row) -> one minibatch of T*E/M samples
    grads: Callable  # (params, minibatch) -> ((loss, LossParts), grads)
    apply: Callable  # (params, opt_state, grads) -> (params, opt_state, grad_norm)
    update: Callable  # (carry, None) -> (carry, UpdateStats), carry = Carry


class Traj(NamedTuple):
    """One rollout, [T, E, ...] leaves."""

    obs: jax.Array  # [T, E, stored_width(obs_dim)]: the live columns only (stored_obs)
    action: jax.Array
    logp: jax.Array
    value: jax.Array
    reward: jax.Array  # scaled by cfg.value_target_scale
    done: jax.Array


class Carry(NamedTuple):
    """What one update passes to the next inside a window."""

    params: Any
    opt_state: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    update: jax.Array
    # [T, E, stored width] float32: the rollout's observation buffer, overwritten in place by
    # every update's rollout (P11). Its contents never carry meaning from one update to the
    # next; carrying it spares the zero-fill a scan's stacked output gets every update.
    obs_buf: jax.Array


def obs_buffer(cfg: TrainConfig, envs: int, width: int = STORED_OBS) -> jax.Array:
    """A zeroed rollout observation buffer for `Carry.obs_buf`: float32 [T, envs, width]."""
    return jnp.zeros((cfg.rollout_steps, envs, width), jnp.float32)


# Columns of the packed per-sample scalars (`pack_scalars`): 8 float32, one 32-byte row.
SCALAR_COLS = 8


def pack_scalars(
    action: jax.Array, logp: jax.Array, value: jax.Array, adv: jax.Array, ret: jax.Array
) -> jax.Array:
    """The per-sample scalars as one float32 [N, SCALAR_COLS] array: one row gather per
    minibatch instead of five (P12). The int32 action ([N], 0 <= action < 2**24) is stored
    as a float32, exact in that range (a bit-cast would make denormals of small ints, which
    flush-to-zero arithmetic may zero); the last three columns are 0."""
    cols = [action.astype(jnp.float32), logp, value, adv, ret]
    zero = jnp.zeros_like(logp)
    return jnp.stack(cols + [zero] * (SCALAR_COLS - len(cols)), axis=-1)


def unpack_scalars(packed: jax.Array) -> tuple[jax.Array, ...]:
    """`pack_scalars` inverted: (action int32, logp, value, adv, ret), each [N]."""
    action = packed[..., 0].astype(jnp.int32)
    return (action, *(packed[..., i] for i in range(1, 5)))


def make_parts(cfg: TrainConfig, der: Derived, env: Any, env_params: Any, n_actions: int) -> Parts:
    """The update's pieces for one seed on one device (collectives only when sharded)."""
    if n_actions > 2**24:
        raise ValueError(f"n_actions {n_actions} > 2**24: actions are stored as float32")
    net = make_network(cfg, n_actions)
    tx = make_optimizer(cfg, der)
    sched = lr_schedule(cfg, der)
    t_len, e_loc = cfg.rollout_steps, der.envs_per_device
    n_mb = cfg.minibatches
    mb_size = t_len * e_loc // n_mb
    chunk = der.minibatch_chunk
    multi = der.num_devices > 1
    width = stored_width(env.observation_space(env_params).shape[-1])

    def pmean(x: Any) -> Any:
        return jax.lax.pmean(x, AXIS) if multi else x

    def psum(x: Any) -> Any:
        return jax.lax.psum(x, AXIS) if multi else x

    def policy(params: Any, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        # obs: full [..., obs_dim] or stored [..., width]; both read as the stored part.
        obs = stored_obs(obs, width)
        out = net.apply(with_input_width(params, obs.shape[-1]), obs)
        logits, value = cast(tuple[jax.Array, jax.Array], out)
        if cfg.action_masking:
            logits = apply_mask(logits, action_mask_from_obs(obs))
        return logits, value

    def act(logits: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        return sample_with_logp(logits, key)

    def env_step(key: jax.Array, env_state: Any, action: jax.Array) -> tuple:
        # One step key shared by all envs: Caravan's randomness lives in the env state
        # (per-episode seeds), so per-env keys would only cost threefry work.
        obs2, env_state2, reward, term, trunc, info = jax.vmap(
            env.step, in_axes=(None, 0, 0, None)
        )(key, env_state, action, env_params)
        return obs2, env_state2, reward, term | trunc, info

    def rollout_step(carry: tuple, t: jax.Array) -> tuple[tuple, tuple]:
        params, env_state, obs, key, acc, buf = carry
        key, k_act, k_env = jax.random.split(key, 3)
        logits, value = policy(params, obs)
        action, logp = act(logits, k_act)
        obs2, env_state2, reward, done, info = env_step(k_env, env_state, action)
        buf = jax.lax.dynamic_update_index_in_dim(buf, stored_obs(obs, width), t, 0)
        step = (action, logp, value, reward * cfg.value_target_scale, done)
        return (params, env_state2, obs2, key, acc.add(info), buf), step

    def rollout(
        params: Any, env_state: Any, obs: jax.Array, key: jax.Array, obs_buf: jax.Array
    ) -> tuple:
        """obs_buf: float32 [T, E, width], overwritten (its old contents are not read)."""
        init = (params, env_state, obs, key, RolloutAcc.zeros(), obs_buf)
        (_, env_state, obs, _, acc, obs_buf), steps = jax.lax.scan(
            rollout_step, init, jnp.arange(t_len)
        )
        return (env_state, obs, acc), Traj(obs_buf, *steps)

    def advantages(params: Any, traj: Traj, obs: jax.Array) -> tuple[tuple, jax.Array]:
        _, last_value = policy(params, obs)
        adv, ret = gae(traj.reward, traj.value, traj.done, last_value, cfg.gamma, cfg.gae_lambda)
        ev = pmean(explained_variance(traj.value, ret))
        n = t_len * e_loc
        scalars = pack_scalars(
            *(x.reshape(n) for x in (traj.action, traj.logp, traj.value, adv, ret))
        )
        return (traj.obs.reshape((n, traj.obs.shape[-1])), scalars), ev

    def shuffle(key: jax.Array) -> jax.Array:
        # Chunk c holds flat rows c*chunk ... c*chunk + chunk - 1: `chunk` consecutive envs
        # of one rollout step (rows are step-major and chunk divides the envs).
        n_chunks = t_len * e_loc // chunk
        return random_permutation(key, n_chunks).reshape((n_mb, mb_size // chunk))

    def gather(batch: tuple, idx: jax.Array) -> tuple:
        def rows(x: jax.Array) -> jax.Array:
            chunks = x.reshape((x.shape[0] // chunk, chunk, *x.shape[1:]))
            mb = chunks.at[idx].get(mode="promise_in_bounds", unique_indices=True)
            return mb.reshape((idx.shape[0] * chunk, *x.shape[1:]))

        return jax.tree.map(rows, batch)

    def loss_fn(params: Any, mb: tuple) -> tuple[jax.Array, Any]:
        obs, scalars = mb
        action, logp, value, adv, ret = unpack_scalars(scalars)
        logits, v = policy(params, obs)
        return ppo_loss(
            logits, v, action, logp, value, adv, ret, cfg.clip, cfg.vf_coef, cfg.ent_coef
        )

    def grads(params: Any, mb: tuple) -> tuple:
        return jax.value_and_grad(loss_fn, has_aux=True)(params, mb)

    def apply(params: Any, opt_state: Any, g: Any) -> tuple[Any, Any, jax.Array]:
        g = pmean(g)
        gnorm = optax.tree.norm(g)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, gnorm

    def epoch_step(carry: tuple, key: jax.Array) -> tuple[tuple, tuple]:
        params, opt_state, batch = carry

        def minibatch_step(c: tuple, idx: jax.Array) -> tuple[tuple, tuple]:
            params, opt_state = c
            (_, parts), g = grads(params, gather(batch, idx))
            params, opt_state, gnorm = apply(params, opt_state, g)
            return (params, opt_state), (parts, gnorm)

        (params, opt_state), out = jax.lax.scan(minibatch_step, (params, opt_state), shuffle(key))
        return (params, opt_state, batch), out

    def update(carry: Carry, _step: None) -> tuple[Carry, UpdateStats]:
        params, opt_state, env_state, obs, key, n_update, obs_buf = carry
        key, k_roll, k_epochs = jax.random.split(key, 3)
        (env_state, obs, acc), traj = rollout(params, env_state, obs, k_roll, obs_buf)
        flat, ev = advantages(params, traj, obs)
        lr = sched(schedule_count(opt_state))  # the count before this update's steps
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
            episodes=acc.episodes,
            return_sum=acc.return_sum,
            profit_sum=acc.profit_sum,
            survived_sum=acc.survived_sum,
            length_sum=acc.length_sum,
            invalid_steps=acc.invalid_steps,
            steps=jnp.float32(der.batch_size),
            kind_counts=acc.kind_counts,
            params_finite=jnp.bool_(True),
        )
        return Carry(params, opt_state, env_state, obs, key, n_update + 1, traj.obs), stats

    return Parts(policy, act, env_step, rollout, advantages, shuffle, gather, grads, apply, update)


def make_window_fn(
    cfg: TrainConfig,
    der: Derived,
    env: Any,
    env_params: Any,
    mesh: Mesh,
    runner: Runner,
    n_actions: int,
) -> jax.stages.Wrapped:
    """The jitted window program: Runner -> (Runner, UpdateStats with leaves [S, K, ...]).

    The input runner is donated: its buffers are reused for the output.
    """
    parts = make_parts(cfg, der, env, env_params, n_actions)

    def one_seed_window(r: Runner) -> tuple[Runner, UpdateStats]:
        buf = obs_buffer(cfg, der.envs_per_device, stored_width(r.obs.shape[-1]))
        carry = Carry(r.params, r.opt_state, r.env_state, r.obs, r.rng[0], r.update, buf)
        carry, stats = jax.lax.scan(parts.update, carry, None, length=cfg.updates_per_window)
        params = carry.params
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)]))
        stats = stats._replace(params_finite=jnp.broadcast_to(finite, stats.policy.shape))
        runner = Runner(
            params, carry.opt_state, carry.env_state, carry.obs, carry.key[None], carry.update
        )
        return runner, stats

    def local_window(r: Runner) -> tuple[Runner, UpdateStats]:
        if cfg.num_seeds > 1:
            return jax.vmap(one_seed_window)(r)
        # One seed: drop the seed axis rather than vmap over it, so XLA sees plain dots and
        # gathers instead of batched ones of batch size 1.
        out = one_seed_window(jax.tree.map(lambda x: x[0], r))
        return jax.tree.map(lambda x: x[None], out)

    specs = runner_specs(runner)
    stat_specs = UpdateStats(*([P()] * len(UpdateStats._fields)))  # type: ignore[arg-type]
    sharded = jax.shard_map(
        local_window,
        mesh=mesh,
        in_specs=(specs,),
        out_specs=(specs, stat_specs),
        # The replicated outputs are made equal explicitly (pmean/psum) above.
        check_vma=False,
    )
    return jax.jit(sharded, donate_argnums=0)
