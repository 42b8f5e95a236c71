"""The textbook peer loop (benchmarks/peer.py) and the profiler's --vs-peer report, tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import jsonschema
import numpy as np
import pytest

from benchmarks.peer import PeerConfig, make_update_loop
from profiler.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "throughput_report.schema.json").read_text())


def test_peer_loop__updates_params_with_finite_loss() -> None:
    cfg = PeerConfig(num_envs=16, rollout_steps=8, updates=3, minibatches=2, hidden=16)
    init_fn, loop_fn = make_update_loop(cfg)
    state = jax.jit(init_fn)()
    before = jax.tree.map(np.asarray, state.params)
    state, metrics = jax.jit(loop_fn)(state)
    loss = np.asarray(metrics["loss"])
    assert loss.shape == (3,)
    assert np.all(np.isfinite(loss))
    moved = [
        float(jnp.max(jnp.abs(a - b)))
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(before), strict=True)
    ]
    assert max(moved) > 0  # Adam stepped
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.params))


def test_profiler__vs_peer_needs_the_trainer_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mode", "env-only", "--vs-peer"]) == 2
    assert "--vs-peer" in capsys.readouterr().err


def test_profiler__vs_peer_report_matches_schema(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    argv = ["--mode", "trainer", "--vs-peer", "--ceiling", "off", "--num-envs", "16"]
    argv += ["--rollout-steps", "8", "--updates-per-window", "1", "--repeats", "2"]
    argv += ["--set", "hidden=16", "--set", "minibatches=2", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    peer = report["peer"]
    assert peer["num_envs"] == 16 and peer["hidden"] == 16 and peer["minibatches"] == 2
    assert len(peer["ppo"]["call_seconds"]) == len(peer["peer"]["call_seconds"]) == 2
    expected = peer["ppo"]["steps_per_sec_p50"] / peer["peer"]["steps_per_sec_p50"]
    assert peer["ratio"] == pytest.approx(expected)
