"""The env's command-line tools: baselines table and throughput bench (small sizes)."""

from __future__ import annotations

import json

import pytest

from envjax import baselines, bench


def test_env_tools__heuristic_beats_random_and_survives() -> None:
    table = baselines.main(["--episodes", "64", "--seed", "7"])
    rnd, heu = table["random"], table["heuristic"]
    assert heu["profit"] > rnd["profit"] + 1000
    assert heu["survived"] >= 0.95
    assert heu["invalid_rate"] == 0.0
    assert rnd["length"] < heu["length"] <= 360


def test_env_tools__bench_reports_median_compile_and_reference_ratio(tmp_path) -> None:
    out = tmp_path / "bench.json"
    res = bench.main(
        ["--num-envs", "64", "--steps", "8", "--repeats", "3", "--ref-seconds", "0.2",
         "--json", str(out)]
    )  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["jax"]["steps_per_s_median"] == res["jax"]["steps_per_s_median"] > 0
    assert len(saved["jax"]["steps_per_s_all"]) == 3 and saved["jax"]["compile_s"] > 0
    assert saved["reference"]["steps_per_s"] > 0 and saved["speedup_vs_reference"] > 0


@pytest.mark.parametrize("argv", [["--episodes", "0"], ["--seed", "-1"]])
def test_env_tools__baselines_rejects_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        baselines.main(argv)


def test_env_tools__bench_rejects_bad_arguments() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--num-envs", "0"])
