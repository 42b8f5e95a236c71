"""Data-parallel training over two (forced host) CPU devices.

Runs in a subprocess because the device count is fixed when jax starts:
XLA_FLAGS=--xla_force_host_platform_device_count=2. Checks that envs really are split across
both devices, that the replicated parameters stay bit-identical on both after a window
(gradients averaged across devices), and that `python -m ppo.train` on 2 devices writes
complete, schema-valid records and resumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from ppo import records

REPO = Path(__file__).resolve().parent.parent

PROBE = r"""
import jax, numpy as np
from envjax import CaravanEnv, OBS_DIM, N_ACTIONS
from ppo.config import TrainConfig
from ppo.window import init_runner, make_window_fn, make_mesh
assert jax.device_count() == 2, jax.devices()
cfg = TrainConfig(num_envs=32, rollout_steps=16, updates_per_window=2, minibatches=2,
                  hidden=32, eval_episodes=0, wandb="disabled")
der = cfg.derived(jax.device_count())
env = CaravanEnv()
mesh = make_mesh(der.num_devices)
r = init_runner(cfg, der, env, env.default_params, mesh, OBS_DIM, N_ACTIONS)
f = make_window_fn(cfg, der, env, env.default_params, mesh, r, N_ACTIONS)
r, st = f(r)
shards = r.obs.addressable_shards
assert sorted(s.device.id for s in shards) == [0, 1]
assert all(s.data.shape == (1, 16, OBS_DIM) for s in shards)
assert not np.array_equal(np.asarray(shards[0].data), np.asarray(shards[1].data))
for leaf in jax.tree.leaves(r.params):
    a, b = (np.asarray(s.data) for s in leaf.addressable_shards)
    assert np.array_equal(a, b), "replicated params diverged across devices"
    assert np.all(np.isfinite(a))
print("PROBE_OK", float(st.policy[0, -1]))
"""


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(REPO),
    }


def test_sharded__replicas_stay_identical_and_envs_split():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PROBE_OK" in proc.stdout


def test_sharded__cli_run_on_two_devices_writes_records_and_resumes(tmp_path):
    base = [
        sys.executable,
        "-m",
        "ppo.train",
        "--num-envs",
        "32",
        "--rollout-steps",
        "16",
        "--updates-per-window",
        "2",
        "--minibatches",
        "2",
        "--hidden",
        "32",
        "--eval-episodes",
        "8",
        "--wandb",
        "disabled",
        "--run-dir",
        str(tmp_path),
    ]
    proc = subprocess.run(
        [*base, "--total-steps", str(2 * 32 * 16 * 2), "--run-id", "two-dev"],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 cpu device(s)" in proc.stdout
    d = tmp_path / "two-dev"
    schema = json.loads((REPO / "docs/schemas/window_row.schema.json").read_text())
    rows = records.read_windows(d)
    assert [r["window_id"] for r in rows] == [0, 1]
    for r in rows:
        jsonschema.validate(r, schema)
        assert r["loss/value"] is not None
    assert records.read_run(d)["state"] == "finished"
    # a finished run resumed on the same devices has nothing left to do and stays complete
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ppo.train",
            "--run-dir",
            str(tmp_path),
            "--resume",
            "two-dev",
            "--wandb",
            "disabled",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["window_id"] for r in records.read_windows(d)] == [0, 1]
