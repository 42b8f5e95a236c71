"""Golden trajectories: fixed seeds and action lists whose outcome is stored under
tests/golden/, so that any unintended change of the game shows up.

Regenerate (only after an intended, documented change of docs/ENV_SPEC.md):
    python tests/test_env_golden.py --regenerate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import trajectories as T

GOLDEN_DIR = Path(__file__).parent / "golden"
CASES = {
    "trader_seed0": (0, 0, "survive", 11, 380),
    "mixed_seed123456789": (123456789, 3, "mixed", 22, 240),
    "valid_seed4242": (4242, 1, "valid", 33, 120),
}
CHECKPOINT_EVERY = 40


def _summary(traj: dict[str, np.ndarray]) -> dict:
    """The stored view of a trajectory: per-step scalars and cargo, price sums, and the full
    price table every CHECKPOINT_EVERY steps."""
    n = len(traj["action"])
    return {
        "actions": np.asarray(traj["action"]).tolist(),
        "day": np.asarray(traj["day"]).tolist(),
        "town": np.asarray(traj["town"]).tolist(),
        "cash": np.asarray(traj["cash"]).tolist(),
        "health": np.asarray(traj["health"]).tolist(),
        "cargo": np.asarray(traj["cargo"]).tolist(),
        "price_sum": np.asarray(traj["price"]).reshape(n, -1).sum(axis=1).tolist(),
        "reward": [round(float(r), 6) for r in traj["reward"]],
        "terminated": np.asarray(traj["terminated"]).astype(int).tolist(),
        "truncated": np.asarray(traj["truncated"]).astype(int).tolist(),
        "invalid": np.asarray(traj["invalid"]).astype(int).tolist(),
        "price_checkpoints": {
            str(i): np.asarray(traj["price"][i]).reshape(8, 12).tolist()
            for i in range(0, n, CHECKPOINT_EVERY)
        },
    }


def _reference(name: str) -> dict[str, np.ndarray]:
    seed, index, style, tail, steps = CASES[name]
    return T.reference_rollout(seed, index, T.expand_choices([], tail, steps), style)


def _compare(got: dict, want: dict, who: str) -> None:
    for key, value in want.items():
        if key == "reward":
            np.testing.assert_allclose(got[key], value, atol=2e-6, err_msg=f"{who}: reward")
            continue
        if got[key] != value:
            if isinstance(value, list):
                step = next(
                    i for i, (a, b) in enumerate(zip(got[key], value, strict=False)) if a != b
                )
                pytest.fail(
                    f"{who}: {key} differs first at step {step}: {got[key][step]} != {value[step]}"
                )
            pytest.fail(f"{who}: {key} differs")


@pytest.mark.parametrize("name", sorted(CASES))
def test_env_golden__reference_and_jax_reproduce_stored_trajectory(name: str) -> None:
    want = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    seed, index, _, _, _ = CASES[name]
    ref = _reference(name)
    assert ref["action"].tolist() == want["actions"], "the action plan itself changed"
    _compare(_summary(ref), want, "reference")
    jx = T.jax_rollout(seed, index, want["actions"])
    jx["action"] = np.asarray(want["actions"])
    _compare(_summary(jx), want, "jax")


def test_env_golden__cases_cover_death_survival_and_invalid_actions() -> None:
    files = [json.loads((GOLDEN_DIR / f"{n}.json").read_text()) for n in CASES]
    assert any(sum(f["terminated"]) for f in files)
    assert any(sum(f["truncated"]) for f in files)
    assert any(sum(f["invalid"]) for f in files)


if __name__ == "__main__":
    if "--regenerate" not in sys.argv:
        sys.exit("usage: python tests/test_env_golden.py --regenerate")
    GOLDEN_DIR.mkdir(exist_ok=True)
    for case in CASES:
        path = GOLDEN_DIR / f"{case}.json"
        path.write_text(json.dumps(_summary(_reference(case)), separators=(",", ":")) + "\n")
        print("wrote", path, path.stat().st_size, "bytes")
