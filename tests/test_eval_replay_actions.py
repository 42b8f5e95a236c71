"""A replay reproduces the evaluated episode by construction (issue 14, item 2): the
evaluation records the actions it played, and stepping one env with them gives the scored
return to the cent, whatever the rounding of the network on the replaying machine."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analytics_service.episode import Episode
from envjax import MAX_DAYS, N_ACTIONS, OBS_DIM, CaravanEnv
from ppo.evaluate import eval_document, make_eval_fn
from ppo.network import ActorCritic

SEED_BASE = 1_000_000
N = 6


@pytest.fixture(scope="module")
def evaluated() -> tuple[ActorCritic, dict, dict[str, np.ndarray]]:
    env = CaravanEnv()
    # A wide trunk: its matmuls round differently batched and one row at a time (checked below)
    net = ActorCritic(n_actions=N_ACTIONS, hidden=256, layers=2)
    params = net.init(jax.random.PRNGKey(5), jnp.zeros((1, OBS_DIM), jnp.float32))
    fn = make_eval_fn(
        net,
        env,
        env.default_params,
        n_episodes=N,
        seed_base=SEED_BASE,
        max_steps=MAX_DAYS,
        n_actions=N_ACTIONS,
        masking=True,
    )
    acc = fn(jax.tree.map(lambda x: x[None], params))  # one agent (the --num-seeds axis)
    return net, params, {k: np.asarray(v)[0] for k, v in acc.items()}


def test_eval__one_row_logits_are_not_the_batched_ones_bit_for_bit(evaluated) -> None:
    # Why the replay cannot recompute the actions: the network's logits for the eval batch
    # differ in the last bits from those of the same observations one row at a time.
    net, params, _ = evaluated
    env = CaravanEnv()
    seeds = jnp.asarray(SEED_BASE + np.arange(N), jnp.uint32)
    obs, _ = jax.vmap(env.reset_from_seed, in_axes=(0, None))(seeds, env.default_params)
    batch = jnp.concatenate([obs, obs])  # the eval's 2n rows
    apply = jax.jit(net.apply)
    batched = np.asarray(apply(params, batch)[0])
    one_row = np.stack([np.asarray(apply(params, row[None])[0][0]) for row in batch])
    assert np.allclose(batched, one_row, rtol=1e-5, atol=1e-5)
    assert (batched != one_row).any()


@pytest.mark.parametrize("policy", ["sampled", "greedy"])
def test_eval__recorded_actions_replay_every_scored_episode_to_the_cent(
    evaluated, policy: str
) -> None:
    _, _, acc = evaluated
    assert acc["actions"].shape == (2 * N, MAX_DAYS) and acc["actions"].dtype == np.uint8
    doc = eval_document(acc, window_id=0, env_steps=0, seed_base=SEED_BASE, policy=policy)
    assert [r["rank"] for r in doc["replays"]] == ["best", "median", "worst"]
    half = slice(N, 2 * N) if policy == "sampled" else slice(0, N)
    # every episode of the policy, not only the three ranked ones
    for i, seed in enumerate(range(SEED_BASE, SEED_BASE + N)):
        j = half.start + i
        length = int(acc["length"][j])
        assert acc["done"][j] and 0 < length <= MAX_DAYS
        ep = Episode(seed)
        for a in acc["actions"][j][:length]:
            assert not ep.done
            ep.step(int(a))
        assert ep.done and ep.length == length
        got = ep.metrics(ep.view())
        assert round(got["return"], 2) == round(float(acc["ret"][j]), 2), (policy, seed)
        assert got["survived"] == bool(acc["survived"][j])
    for r in doc["replays"]:
        i = r["seed"] - SEED_BASE
        assert r["actions"] == [int(a) for a in acc["actions"][half.start + i][: r["length"]]]
        assert all(type(a) is int and 0 <= a < N_ACTIONS for a in r["actions"])


def test_eval_document__without_recorded_actions_has_no_actions_field(evaluated) -> None:
    _, _, acc = evaluated
    old = {k: v for k, v in acc.items() if k != "actions"}
    doc = eval_document(old, window_id=0, env_steps=0, seed_base=SEED_BASE)
    assert all("actions" not in r for r in doc["replays"])
