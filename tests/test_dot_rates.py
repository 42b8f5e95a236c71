"""benchmarks.dot_rates: the update's dots are the ones the FLOP counts assume, and a tiny run
times every one of them in full."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from procs import run_tiny_benchmark

from benchmarks.dot_rates import dot_shapes
from profiler.modes.trainer import forward_backward_flops, forward_flops

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("hidden,layers", [(64, 2), (16, 1), (128, 3)])
def test_dot_shapes__per_row_flops_equal_the_profilers_forward_and_backward_counts(hidden, layers):
    shapes = dot_shapes(8192, 4096, 240, hidden, layers, 70)
    kernels = [[240, hidden]] + [[hidden, hidden]] * (layers - 1) + [[hidden, 70]]

    def per_row(kinds: set[str], rows: int) -> float:
        return sum(2 * s["m"] * s["k"] * s["n"] for s in shapes if s["kind"] in kinds) / rows

    assert per_row({"rollout"}, 8192) == forward_flops(kernels)
    assert per_row({"forward", "input_grad", "weight_grad"}, 4096) == forward_backward_flops(
        kernels
    )
    assert sum(s["kind"] == "input_grad" for s in shapes) == layers  # none for the obs


def test_dot_shapes__a_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        dot_shapes(8192, 0, 240, 64, 2, 70)


def test_dot_rates__tiny_run_times_every_dot_of_the_update(tmp_path):
    stdout, r = run_tiny_benchmark(
        "benchmarks.dot_rates", tmp_path / "d.json", "rollout_steps=8", "minibatches=2", "hidden=16"
    )
    assert len(r["dots"]) == 11  # 3 layers: rollout, forward, weight grad; 2 input grads
    for d in r["dots"]:
        # XLA multiplies the whole product (it would count less for a dot cut short)
        assert d["flops_per_call"] <= d["xla_flops_per_call"], d["name"]
        assert d["flops_per_cpu_s"] == pytest.approx(d["flops_per_call"] / d["cpu_s_per_call"])
    # The update's dense FLOPs as benchmarks.breakdown counts them (T + 1 rollout forwards,
    # 2 epochs of forward + backward without the observations' gradient).
    f0, f = 2 * 240 * 16, 2 * (240 * 16 + 16 * 16 + 16 * 70)
    assert r["update_dense_flops"] == pytest.approx(f * 32 * 9 + (3 * f - f0) * 2 * 32 * 8)
    assert "all dots of one update" in stdout


def test_dot_rates__a_bad_setting_exits_2_with_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.dot_rates", "--set", "hidden=0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error:")
