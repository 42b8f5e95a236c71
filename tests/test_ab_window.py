"""benchmarks.ab_window: the base revision's `ppo` imports itself, not the tree's, and a
tiny A/B runs both window programs alternately."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.ab_window import export_base

REPO = Path(__file__).resolve().parent.parent


def test_export_base__every_import_of_ppo_is_renamed(tmp_path):
    pkg = export_base("HEAD", tmp_path)
    files = sorted(pkg.rglob("*.py"))
    assert (pkg / "window.py") in files and (pkg / "__init__.py") in files
    text = "\n".join(f.read_text() for f in files)
    assert "from ppo_base.config import" in text
    for line in text.splitlines():
        words = line.split()
        if words[:1] in (["from"], ["import"]) and len(words) > 1:
            assert not (words[1] == "ppo" or words[1].startswith("ppo.")), line


def test_ab_window__tiny_run_alternates_both_sides(tmp_path):
    out = tmp_path / "ab.json"
    sets = ["rollout_steps=16", "minibatches=2", "hidden=16", "updates_per_window=1"]
    cmd = [sys.executable, "-m", "benchmarks.ab_window", "--base", "HEAD", "--num-envs", "32"]
    cmd += ["--repeats", "2", "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert set(r["sides"]) == {"base", "tree"}
    for side in r["sides"].values():
        assert len(side["cpu_s_samples"]) == 2 and min(side["cpu_s_samples"]) > 0
    assert len(r["pair_ratios_cpu"]) == 2 and r["ratio_cpu_base_over_tree"] > 0
    # the order alternates: tree runs first in the second round
    lines = [x for x in proc.stderr.splitlines() if "CPU ms per update" in x]
    assert [x.split(":")[1].strip() for x in lines] == ["base", "tree", "tree", "base"]
    assert r["set"]["minibatches"] == 2 and r["updates_per_call"] == 1
