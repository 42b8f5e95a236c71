"""describe() view, terminal play and the Gymnasium wrapper."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import jax
import numpy as np
import pytest
import trajectories as T
from gymnasium.utils.env_checker import check_env

from envjax import ACTION_LABELS, CaravanEnv
from envjax import constants as C
from envjax import reference as R
from envjax.gym_env import CaravanGymEnv
from envjax.play import parse_action, play
from envjax.render import describe

VIEW_KEYS = {
    "day", "max_days", "days_left", "town", "cash", "cash_cents", "health", "provisions",
    "capacity", "net_worth", "terminated", "truncated", "done", "cargo", "market", "towns",
    "roads", "roads_here", "valid_actions", "episode",
}  # fmt: skip


def _played_state(seed: int = 3, days: int = 30) -> R.RefState:
    env = R.ReferenceEnv(seed)
    env.reset()
    for choice in T.expand_choices([], seed, days):
        env.step(T.choose_action("survive", choice, env.state))
    return env.state


def test_env_render__describe_has_contract_shape_and_is_json() -> None:
    s = _played_state()
    view = describe(s)
    assert set(view) >= VIEW_KEYS
    json.dumps(view)  # JSON-able
    assert view["cash_cents"] == s.cash and view["cash"] == round(s.cash / 100, 2)
    assert view["days_left"] == C.MAX_DAYS - s.day
    assert view["town"] == {"id": s.town, "name": C.TOWN_NAMES[s.town]}
    assert [c["good"] for c in view["cargo"]] == [g for g in range(12) if s.cargo[g]]
    assert len(view["market"]) == 12 and all(len(m["last_seen"]) == 8 for m in view["market"])
    for m in view["market"]:
        assert m["price"] == round(s.price[s.town][m["good"]] / 100, 2)
        for ls in m["last_seen"]:
            assert (ls["price"] is None) == (ls["age_days"] is None) == (s.seen_day[ls["town"]] < 0)
    mask = R.action_mask(s)
    assert [v["action"] for v in view["valid_actions"]] == [a for a in range(69) if mask[a]]
    assert all(v["label"] == ACTION_LABELS[v["action"]] for v in view["valid_actions"])
    assert all(0 <= t["x"] <= 1 and 0 <= t["y"] <= 1 for t in view["towns"])
    assert len(view["roads"]) == len(C.ROADS)
    assert view["capacity"]["used"] + view["capacity"]["free"] == C.CAPACITY
    assert view["episode"]["length"] == s.day


def test_env_render__describe_jax_state_equals_reference_view() -> None:
    s = _played_state(9, 40)
    assert describe(R.to_jax_state(s)) == describe(s)
    _, batch = jax.vmap(CaravanEnv().reset_from_seed)(np.arange(2, dtype=np.uint32))
    with pytest.raises(ValueError, match="single env"):
        describe(batch)
    with pytest.raises(TypeError):
        describe({"day": 1})


def test_env_render__describe_marks_death_and_lists_no_actions() -> None:
    s = _played_state()
    s.health = 0
    view = describe(s)
    assert view["terminated"] and view["done"] and not view["truncated"]
    assert view["valid_actions"] == [] and view["net_worth"] == 0.0
    assert view["episode"]["profit"] == -580.0


def test_env_render__action_labels_follow_frozen_layout() -> None:
    assert len(ACTION_LABELS) == 69 and ACTION_LABELS[0] == "Wait"
    assert ACTION_LABELS[2] == "Travel to Carrow"
    assert ACTION_LABELS[10] == "Buy 1 Salt" and ACTION_LABELS[22] == "Buy 10 Salt"
    assert ACTION_LABELS[34] == "Sell 1 Salt" and ACTION_LABELS[46] == "Sell 10 Salt"
    assert ACTION_LABELS[58] == "Sell all Salt"


def test_env_render__play_parses_numbers_and_labels() -> None:
    assert parse_action("22", []) == 22
    assert parse_action("buy 10 salt", list(range(69))) == 22
    assert parse_action("Travel to Carrow", list(range(69))) == 2
    assert parse_action("wait", [0]) == 0
    assert parse_action("99", [0]) is None and parse_action("fly", [0]) is None


def test_env_render__play_runs_from_piped_stdin() -> None:
    script = "wait\nnonsense\nbuy 10 provisions\n" + "0\n" * 400
    out = io.StringIO()
    view = play(12, io.StringIO(script), out)
    text = out.getvalue()
    assert "not understood" in text and view["done"]
    assert ("You died" in text) or ("You survived" in text)


def test_env_render__play_module_exits_cleanly_on_eof() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "envjax.play", "--seed", "4"],
        input="wait\nbuy 1 salt\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(end of input)" in proc.stdout and "You stopped on day 2" in proc.stdout


def test_env_render__gym_wrapper_passes_env_checker() -> None:
    env = CaravanGymEnv(render_mode="ansi")
    check_env(env, skip_render_check=False)
    obs, info = env.reset(seed=7)
    assert obs.shape == (260,) and obs.dtype == np.float32
    assert info["action_mask"].tolist() == (obs[:69] == 1).tolist()
    assert "Day 0/360" in env.render()
    with pytest.raises(ValueError):
        env.step(69)


def test_env_render__gym_wrapper_matches_jax_env() -> None:
    env = CaravanGymEnv()
    obs, _ = env.reset(seed=21)
    jenv = CaravanEnv()
    jobs, state = jenv.reset_from_seed(21)
    step = jax.jit(jenv.step)
    rng = np.random.default_rng(0)
    for _ in range(120):
        a = int(rng.choice(np.flatnonzero(env.action_masks())))
        obs, r, term, trunc, _ = env.step(a)
        jobs, state, jr, jterm, jtrunc, _ = step(jax.random.key(0), state, a)
        if term or trunc:
            assert bool(jterm) == term and bool(jtrunc) == trunc
            obs, _ = env.reset()  # next episode, as the JAX auto-reset
        np.testing.assert_allclose(obs, np.asarray(jobs), rtol=1e-6, atol=1e-7)
        assert r == pytest.approx(float(jr), rel=1e-6, abs=1e-7)


def test_env_render__gym_make_builds_the_registered_env() -> None:
    import gymnasium as gym

    from envjax.gym_env import ENV_ID

    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    env.close()
