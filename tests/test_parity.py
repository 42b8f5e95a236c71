"""Parity: the JAX env (single and vmapped) and the plain-Python reference agree exactly.

Hypothesis draws base seeds, env indices, an action style and action choices; each plan runs
400 days, through deaths, day-360 truncations and auto-resets. Integer state, mask,
terminated/truncated and info must be identical, rewards within 1e-6, observations within
1e-6 relative. The default run checks about 200 plans (over 1,000 episodes: most plans hold
several episodes); `--full` checks over 3,000 plans and 10,000 episodes.
"""

from __future__ import annotations

import numpy as np
import trajectories as T
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

STEPS = 400
BATCH = 8
FULL_BATCH = 64

seeds = st.integers(0, 2**32 - 1)
styles = st.sampled_from(T.STYLES)
prefixes = st.lists(st.integers(0, 2**16 - 1), max_size=48)


def _plan(seed: int, index: int, style: str, prefix: list[int], tail: int) -> dict:
    return T.reference_rollout(seed, index, T.expand_choices(prefix, tail, STEPS), style)


def _check(ref: dict, jx: dict, label: str) -> None:
    where = T.first_divergence(ref, jx)
    assert where is None, f"{label}: first divergence at {where}"


def test_parity__single_env_matches_reference(full_run: bool) -> None:
    @settings(
        max_examples=400 if full_run else 150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(seed=seeds, index=st.integers(0, 1000), style=styles, prefix=prefixes, tail=seeds)
    def check(seed: int, index: int, style: str, prefix: list[int], tail: int) -> None:
        ref = _plan(seed, index, style, prefix, tail)
        jx = T.jax_rollout(seed, index, ref["action"])
        _check(ref, jx, f"seed {seed} env_index {index} style {style}")

    check()


def test_parity__vmapped_envs_match_reference(full_run: bool) -> None:
    batch = FULL_BATCH if full_run else BATCH
    episodes = []

    @settings(
        max_examples=48 if full_run else 7,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        seed=seeds,
        style=styles,
        tails=st.lists(seeds, min_size=batch, max_size=batch),
        prefix=prefixes,
    )
    def check(seed: int, style: str, tails: list[int], prefix: list[int]) -> None:
        # row i is env index i of one base seed, as in envjax.vec.reset_batch
        refs = [_plan(seed, i, style, prefix, tails[i]) for i in range(batch)]
        actions = np.stack([r["action"] for r in refs])
        jx = T.jax_rollout_batch([seed] * batch, list(range(batch)), actions)
        for i, ref in enumerate(refs):
            row = {k: v[i] for k, v in jx.items()}
            _check(ref, row, f"seed {seed} env_index {i} style {style}")
            episodes.append(1 + int(ref["episode_done"].sum()))

    check()
    print(f"vmapped parity: {len(episodes)} plans, {sum(episodes)} episodes")
    if full_run:
        assert sum(episodes) >= 10_000, f"only {sum(episodes)} episodes checked"


def test_parity__plans_cover_death_truncation_and_invalid() -> None:
    """The action styles used above really reach death, day 360 and invalid actions."""
    died = survived = invalid = 0
    for k, style in enumerate(("raw", "valid", "survive", "mixed")):
        ref = _plan(1000 + k, k, style, [], 77 + k)
        died += int(ref["terminated"].sum())
        survived += int(ref["truncated"].sum())
        invalid += int(ref["invalid"].sum())
    assert died > 0 and survived > 0 and invalid > 0, (died, survived, invalid)


def test_parity__divergence_report_names_first_step_and_field() -> None:
    ref = _plan(5, 0, "valid", [], 3)
    jx = {k: np.array(v, copy=True) for k, v in ref.items()}
    jx["cash"][17] += 1
    jx["health"][23] -= 1
    assert T.first_divergence(ref, ref) is None
    msg = T.first_divergence(ref, jx)
    assert msg is not None and msg.startswith("step 17") and "field cash" in msg
    jx = {k: np.array(v, copy=True) for k, v in ref.items()}
    jx["obs"][4, 200] += 1e-3
    msg = T.first_divergence(ref, jx)
    assert msg is not None and msg.startswith("step 4: field obs[200]")
