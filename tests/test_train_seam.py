"""The trainer's public seam (ppo.events): events, checkpoint policy, stop rule, and no
patching of one package by another.

Tiny sizes (32 envs, 16 steps): each run compiles the same programs a full run compiles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ppo import checkpoint, records
from ppo.config import TrainConfig
from ppo.events import Compiled, Phases, WindowDone, checkpoint_due, checkpoint_policy
from ppo.metrics import PHASE_KEYS
from ppo.train import train

REPO = Path(__file__).resolve().parent.parent
TINY = dict(
    num_envs=32,
    rollout_steps=16,
    updates_per_window=1,
    total_steps=4 * 32 * 16,
    epochs=1,
    minibatches=2,
    hidden=16,
    eval_episodes=0,
    keep_checkpoints=5,
    wandb="disabled",
)


def test_checkpoint_policy__every_n_and_final_window():
    assert [w for w in range(7) if checkpoint_due(w, 3, final=w == 6)] == [2, 5, 6]
    assert [w for w in range(3) if checkpoint_due(w, 1, final=False)] == [0, 1, 2]
    assert not any(checkpoint_due(w, 0, final=True) for w in range(3))
    assert checkpoint_policy(None) == 0 and checkpoint_policy(4) == 4
    with pytest.raises(ValueError, match="checkpoint_every"):
        checkpoint_policy(-1)


def test_phases__row_carries_the_previous_windows_records_and_checkpoint():
    prev = Phases(compute_s=1.0, records_s=0.25, checkpoint_s=0.5)
    row = Phases(compute_s=2.0, fetch_s=0.1, eval_s=0.3).row(prev)
    assert list(row) == list(PHASE_KEYS)
    assert row["time/compute_s"] == 2.0 and row["time/eval_s"] == 0.3
    assert row["time/prev_records_s"] == 0.25 and row["time/prev_checkpoint_s"] == 0.5
    assert Phases().row(None)["time/prev_records_s"] is None


def test_train__events_match_records_and_checkpoint_every_n(tmp_path):
    events: list = []
    cfg = TrainConfig(**{**TINY, "eval_episodes": 4}, run_dir=str(tmp_path), run_id="ev")
    (d,) = train(cfg, progress_fn=events.append, checkpoint_every=3)
    compiled = [e for e in events if isinstance(e, Compiled)]
    assert [c.program for c in compiled] == ["window", "eval"]
    assert all(c.seconds > 0 for c in compiled)
    done = [e for e in events if isinstance(e, WindowDone)]
    assert [e.window_id for e in done] == [0, 1, 2, 3]
    assert events.index(compiled[-1]) < events.index(done[0])
    rows = records.read_windows(d)
    assert [e.rows[0] for e in done] == rows  # the rows as written
    assert [e.checkpointed for e in done] == [False, False, True, True]  # 3rd and final
    assert checkpoint.complete_windows(d) == [2, 3]
    for e in done:
        p = e.phases
        assert p.compute_s > 0 and p.fetch_s > 0 and p.eval_s > 0 and p.records_s > 0
        assert (p.checkpoint_s > 0) == e.checkpointed
        assert p.total() <= e.seconds and e.cpu_s > 0
    for prev, e, row in zip(done, done[1:], rows[1:], strict=False):
        assert row["time/prev_records_s"] == prev.phases.records_s
        assert row["time/prev_checkpoint_s"] == prev.phases.checkpoint_s
        assert row["time/compute_s"] == e.phases.compute_s
    assert rows[0]["time/prev_records_s"] is None
    meta = records.read_run(d)
    assert meta["state"] == "finished" and meta["last_checkpoint"] == 3


@pytest.mark.parametrize(("every", "kept"), [(0, []), (3, [1])])
def test_train__stop_fn_ends_cleanly_and_checkpoints_the_final_window(tmp_path, every, kept):
    events: list = []
    asked: list[int] = []

    def stop(e: WindowDone) -> bool:
        asked.append(e.window_id)
        return e.window_id == 1

    cfg = TrainConfig(**TINY, run_dir=str(tmp_path), run_id="stop")
    (d,) = train(cfg, progress_fn=events.append, checkpoint_every=every, stop_fn=stop)
    assert asked == [0, 1]
    assert [e.window_id for e in events if isinstance(e, WindowDone)] == [0, 1]
    assert events[-1].checkpointed == bool(kept)
    assert checkpoint.complete_windows(d) == kept
    meta = records.read_run(d)
    assert meta["state"] == "finished" and meta["windows_completed"] == 2
    assert meta["last_checkpoint"] == (kept[-1] if kept else None)


def test_no_package_patches_another():
    """No setattr in ppo or profiler (nothing patches another package), and the profiler's
    probe does not import its caller (no import cycle)."""
    for pkg in ("ppo", "profiler"):
        for path in (REPO / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                    raise AssertionError(f"setattr in {path.relative_to(REPO)}:{node.lineno}")
    probe = ast.parse((REPO / "profiler/modes/probe.py").read_text())
    imported_modules = {
        n.module for n in ast.walk(probe) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert not any(m.startswith("profiler.modes") for m in imported_modules), imported_modules
