"""benchmarks.steps_to_target: first window meeting both conditions; configs told apart."""

from __future__ import annotations

import json

from benchmarks import steps_to_target as stt


def _run(tmp_path, name: str, minibatches: int, curve: list[tuple[float, float]]):
    d = tmp_path / name
    d.mkdir()
    cfg = {
        "hidden": 64,
        "epochs": 2,
        "minibatches": minibatches,
        "lr": 1e-3,
        "rollout_steps": 64,
        "num_envs": 8,
    }
    (d / "run.json").write_text(json.dumps({"run_id": name, "config": cfg}))
    rows = [
        {
            "window_id": i,
            "env_steps": 100 * (i + 1),
            "wall_time_s": float(i),
            "eval/profit_mean": p,
            "eval/survival_rate": s,
        }
        for i, (p, s) in enumerate(curve)
    ]
    (d / "windows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_first_hit_needs_profit_and_survival_in_the_same_window(tmp_path):
    # window 1 has the profit but not the survival; window 2 has both.
    d = _run(tmp_path, "a", 32, [(10.0, 1.0), (60_000.0, 0.94), (58_000.0, 0.95)])
    (row,) = stt.summarize([d], stt.HEURISTIC_PROFIT, 0.95)
    assert row["steps_to_target"] == 300 and row["wall_s_to_target"] == 2.0


def test_runs_differing_in_minibatches_are_separate_configs(tmp_path, capsys):
    a = _run(tmp_path, "a", 32, [(60_000.0, 1.0)])
    b = _run(tmp_path, "b", 128, [(0.0, 1.0), (60_000.0, 1.0)])
    c = _run(tmp_path, "c", 128, [(0.0, 1.0), (0.0, 1.0)])
    assert stt.main([str(a), str(b), str(c)]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("{")]
    assert any("minibatches 32" in ln and "[100]" in ln and "median 100" in ln for ln in lines)
    # one of the two 128-minibatch seeds never hit: no median is claimed.
    assert any(
        "minibatches 128" in ln and "[200, None]" in ln and "median None" in ln for ln in lines
    )
