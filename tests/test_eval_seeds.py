"""The evaluation's sampled actions depend on each episode's own seed only (issue 14, item
2): the same seed scores the same episode whatever else is evaluated with it, which is what
lets a replay of one seed reproduce the evaluated return."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envjax import MAX_DAYS, N_ACTIONS, OBS_DIM, CaravanEnv
from ppo.evaluate import eval_document, make_eval_fn
from ppo.network import ActorCritic


def _eval(n_episodes: int, seed_base: int) -> dict[str, np.ndarray]:
    env = CaravanEnv()
    net = ActorCritic(n_actions=N_ACTIONS, hidden=16, layers=1)
    params = net.init(jax.random.PRNGKey(3), jnp.zeros((1, OBS_DIM), jnp.float32))
    batched = jax.tree.map(lambda x: x[None], params)  # one agent (the --num-seeds axis)
    fn = make_eval_fn(
        net,
        env,
        env.default_params,
        n_episodes=n_episodes,
        seed_base=seed_base,
        max_steps=MAX_DAYS,
        n_actions=N_ACTIONS,
        masking=True,
    )
    return {k: np.asarray(v)[0] for k, v in fn(batched).items()}


def test_eval__a_seeds_sampled_episode_does_not_depend_on_the_other_episodes() -> None:
    small, large = _eval(2, 1_000_000), _eval(5, 1_000_000)
    # sampled half: episodes [n, 2n); seeds 1_000_000 and 1_000_001 in both evaluations
    np.testing.assert_array_equal(small["ret"][2:4], large["ret"][5:7])
    np.testing.assert_array_equal(small["length"][2:4], large["length"][5:7])
    assert small["done"].all()
    doc = eval_document(large, window_id=0, env_steps=0, seed_base=1_000_000)
    assert [r["rank"] for r in doc["replays"]] == ["best", "median", "worst"]
    sampled = large["ret"][5:]
    best = doc["replays"][0]
    assert best["return"] == float(sampled.max()) and best["seed"] == doc["replay_seeds"][0]
    assert doc["sample_key"]["derivation"].startswith("fold_in(fold_in(PRNGKey(seeds.base)")
