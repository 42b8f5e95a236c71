"""benchmarks.breakdown at a tiny size: every phase is timed, the ceilings are read before and
after, and the non-matmul share is the window program's."""

from __future__ import annotations

import pytest
from procs import run_tiny_benchmark

from benchmarks.breakdown import ENV_STEP_PHASE


def test_breakdown__tiny_run_reports_the_window_program_and_its_share(tmp_path):
    stdout, b = run_tiny_benchmark(
        "benchmarks.breakdown",
        tmp_path / "b.json",
        *("rollout_steps=8", "minibatches=2", "hidden=16", "updates_per_window=2"),
    )
    window = [p for p in b["phases"] if p["group"] == "window"]
    assert len(window) == 1 and window[0]["cpu_seconds_per_update"] > 0
    w = window[0]
    peak = b["ceiling_used"]["flops_per_cpu_s"]
    before, after = (c["matmul"]["flops_per_cpu_s"] for c in (b["ceiling"], b["ceiling_end"]))
    assert peak == pytest.approx((before + after) / 2)
    assert w["matmul_bound_cpu_s"] == pytest.approx(w["dense_flops"] / peak)
    assert b["non_matmul_share"] == pytest.approx(
        1 - w["matmul_bound_cpu_s"] / w["cpu_seconds_per_update"]
    )
    # the update's dense FLOPs: forward in the rollout and the bootstrap value, then per
    # epoch forward + backward without the input layer's input gradient
    (fb,) = [p for p in b["phases"] if p["phase"] == "update: forward + backward"]
    f0, f = 2 * 240 * 16, 2 * (240 * 16 + 16 * 16 + 16 * 70)
    assert fb["dense_flops"] == pytest.approx((3 * f - f0) * 2 * 32 * 8)  # 2 epochs
    assert w["dense_flops"] == pytest.approx(f * (32 * 8 + 32) + fb["dense_flops"])
    assert "non-matmul share of the window" in stdout
    # GAE is timed as the window runs it: the flat observations are a reshape of the buffer
    # there, so the phase must not pay for copying it out (T * E * 240 float32 = 245,760 B).
    (gae,) = [p for p in b["phases"] if p["group"] == "gae"]
    assert 0 < gae["xla_bytes"] < 8 * 32 * 240 * 4
    # The network alone runs every dense FLOP of the window: XLA would drop a matmul whose
    # result nothing reads and then count fewer FLOPs than the dense count (the count is of
    # one call compiled alone; XLA counts a loop body once). The floor shares come from
    # those two phases and the env step.
    dense = [p for p in b["phases"] if p["group"] == "dense-alone"]
    assert len(dense) == 2
    assert sum(p["dense_flops"] for p in dense) == pytest.approx(w["dense_flops"])
    for p in dense:
        assert p["dense_flops"] <= p["xla_flops"] < 1.2 * p["dense_flops"], p["phase"]
    cpu = sum(p["cpu_seconds_per_update"] for p in dense)
    bound = sum(p["matmul_bound_cpu_s"] for p in dense)
    assert b["non_matmul_share_floor"] == pytest.approx(1 - bound / cpu)
    (env,) = [p for p in b["phases"] if p["phase"] == ENV_STEP_PHASE]
    assert b["non_matmul_share_floor_with_env"] == pytest.approx(
        1 - bound / (cpu + env["cpu_seconds_per_update"])
    )
    assert "the least non-matmul share" in stdout
