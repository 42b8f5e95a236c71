"""Tiny real profiler runs: every mode's report matches the schema; --enforce-target exits right.

Sizes are the smallest that still exercise each mode end to end (a few seconds each on 2
cores). Speed itself is never asserted here: that is `make gate`'s job.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from profiler.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "throughput_report.schema.json").read_text())
TINY = [
    "--num-envs",
    "32",
    "--rollout-steps",
    "8",
    "--updates-per-window",
    "2",
    "--repeats",
    "2",
    "--warmup",
    "1",
    "--reference-steps",
    "200",
]


def _profile(tmp_path: Path, *argv: str) -> tuple[int, dict | None]:
    out = tmp_path / "report.json"
    code = main([*TINY, *argv, "--out", str(out)])
    return code, json.loads(out.read_text()) if out.exists() else None


@pytest.mark.parametrize("mode", ["reference", "env-only", "trainer", "trainer+eval"])
def test_profiler__tiny_run_per_mode_matches_schema(mode: str, tmp_path: Path) -> None:
    # One mode measures the (quick) ceiling so its FLOP fraction is checked; the rest skip it.
    ceiling = "quick" if mode == "trainer" else "off"
    code, report = _profile(tmp_path, "--mode", mode, "--ceiling", ceiling, "--eval-episodes", "4")
    assert code == 0
    assert report is not None
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    (run,) = report["runs"]
    assert run["mode"] == mode
    assert run["steps_per_sec"]["min"] <= run["steps_per_sec"]["p50"] <= run["steps_per_sec"]["p95"]
    assert len(run["steps_per_sec"]["samples"]) == 2
    assert report["system"]["backend"] and report["system"]["jax_version"]
    if mode == "reference":
        assert run["compile_s"] is None
    else:
        assert run["compile_s"] > 0
    if mode.startswith("trainer"):
        net = run["network"]
        assert net["flops_per_env_step"] > net["forward_flops_per_sample"] > 0
        phases = run["details"]["phase_seconds_p50"]
        assert 0 < phases["window"] <= phases["cycle"]
    if mode == "trainer":
        assert report["ceiling"]["matmul"]["flops_per_sec"]["p50"] > 0
        assert run["network"]["fraction_of_matmul_ceiling"] > 0
    if mode == "trainer+eval":
        assert run["details"]["phase_seconds_p50"]["eval"] > 0
        assert run["details"]["phase_seconds_p50"]["checkpoint"] > 0
    if mode == "env-only":
        assert run["memory_traffic"]["min_bytes_per_env_step"] > 0


def test_profiler__sweep_writes_png_and_one_run_per_value(tmp_path: Path) -> None:
    code, report = _profile(
        tmp_path, "--mode", "env-only", "--sweep", "num_envs=16,32", "--ceiling", "off"
    )
    assert code == 0 and report is not None
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert [r["num_envs"] for r in report["runs"]] == [16, 32]
    png = Path(report["sweep"]["plot"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profiler__enforce_target_fails_on_impossible_target(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, report = _profile(
        tmp_path,
        "--mode",
        "reference",
        "--ceiling",
        "off",
        "--target-steps-per-sec",
        "1e15",
        "--enforce-target",
    )
    assert code == 1
    assert report is not None and report["passed"] is False
    reason = [ln for ln in capfd.readouterr().err.splitlines() if "target missed" in ln]
    assert len(reason) == 1 and "reference p50 steps/s" in reason[0]


def test_profiler__enforce_target_passes_on_trivial_target(tmp_path: Path) -> None:
    code, report = _profile(
        tmp_path,
        "--mode",
        "reference",
        "--ceiling",
        "off",
        "--target-steps-per-sec",
        "1",
        "--enforce-target",
    )
    assert code == 0
    assert report is not None and report["passed"] is True
    assert [c["passed"] for c in report["checks"]] == [True]


def test_network_flops__count_what_the_update_runs() -> None:
    """Backward has no input gradient for the layer reading the observations (the profiler's
    FLOPs per env step; the breakdown uses the same `forward_backward_flops`)."""
    import jax
    import jax.numpy as jnp

    from envjax import N_ACTIONS
    from ppo.config import TrainConfig
    from ppo.window import STORED_OBS, make_network
    from profiler.modes.trainer import (
        dense_layers,
        forward_backward_flops,
        network_flops,
        network_layers,
    )

    cfg = TrainConfig()
    layers = network_layers(cfg)
    assert layers[0] == [STORED_OBS, cfg.hidden]  # the input layer first
    f = sum(2 * i * o for i, o in layers)
    f0 = 2 * STORED_OBS * cfg.hidden
    net = network_flops(layers, cfg.epochs, cfg.rollout_steps)
    want = f * (1 + 1 / cfg.rollout_steps) + cfg.epochs * (3 * f - f0)
    assert net["flops_per_env_step"] == want
    params = make_network(cfg, N_ACTIONS).init(
        jax.random.PRNGKey(0), jnp.zeros((1, STORED_OBS), jnp.float32)
    )
    assert dense_layers(params) == layers  # input layer first from real params too
    assert forward_backward_flops(layers) == 3 * f - f0
