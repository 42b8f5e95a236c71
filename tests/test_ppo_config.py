"""ppo.config: CLI parsing, defaults and rejection of inconsistent values before compiling."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ppo.config import ConfigError, TrainConfig, parse_args


def test_config__cli_maps_every_flag():
    cfg = parse_args(
        [
            "--num-envs",
            "64",
            "--rollout-steps",
            "16",
            "--updates-per-window",
            "3",
            "--total-steps",
            "5000",
            "--epochs",
            "3",
            "--minibatches",
            "8",
            "--lr",
            "0.01",
            "--gamma",
            "0.9",
            "--gae-lambda",
            "0.8",
            "--clip",
            "0.1",
            "--ent-coef",
            "0.02",
            "--vf-coef",
            "0.25",
            "--hidden",
            "32",
            "--seed",
            "7",
            "--no-action-masking",
            "--num-seeds",
            "2",
            "--eval-episodes",
            "4",
            "--run-dir",
            "x",
            "--wandb",
            "disabled",
        ]
    )
    assert cfg == TrainConfig(
        num_envs=64,
        rollout_steps=16,
        updates_per_window=3,
        total_steps=5000,
        epochs=3,
        minibatches=8,
        lr=0.01,
        gamma=0.9,
        gae_lambda=0.8,
        clip=0.1,
        ent_coef=0.02,
        vf_coef=0.25,
        hidden=32,
        seed=7,
        action_masking=False,
        num_seeds=2,
        eval_episodes=4,
        run_dir="x",
        wandb="disabled",
    )
    assert parse_args(["--action-masking"]).action_masking is True


def test_config__wandb_default_follows_api_key(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert parse_args([]).wandb == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert parse_args([]).wandb == "online"
    assert parse_args(["--wandb", "disabled"]).wandb == "disabled"


def test_config__derived_sizes():
    der = TrainConfig(
        num_envs=64, rollout_steps=16, updates_per_window=2, minibatches=4, total_steps=5000
    ).derived(1)
    assert der.batch_size == 1024
    assert der.minibatch_size == 256
    assert der.steps_per_window == 2048
    assert der.num_windows == 3  # rounded up to whole windows
    assert der.total_updates == 6


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"num_envs": 10, "rollout_steps": 3, "minibatches": 4}, "divisible by --minibatches 4"),
        ({"num_envs": 0}, "--num-envs must be >= 1"),
        ({"lr": -1.0}, "--lr must be a positive"),
        ({"gamma": 1.5}, "--gamma must be in [0, 1]"),
        ({"wandb": "sometimes"}, "--wandb must be one of"),
        ({"run_id": "../etc"}, "--run-id"),
        ({"num_envs": 63}, "divisible by the device count 2"),
    ],
)
def test_config__rejects_inconsistent_values(kw, needle):
    devices = 2 if kw.get("num_envs") == 63 else 1
    with pytest.raises(ConfigError) as e:
        TrainConfig(**kw).derived(devices)
    assert needle in str(e.value)


def test_config__cli_rejects_bad_batch_before_compiling(tmp_path):
    """The CLI exits 2 with a readable message and writes no run records."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ppo.train",
            "--num-envs",
            "10",
            "--rollout-steps",
            "3",
            "--minibatches",
            "4",
            "--run-dir",
            str(tmp_path),
            "--wandb",
            "disabled",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "must be divisible by --minibatches 4" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())


def test_config__help_documents_defaults():
    proc = subprocess.run(
        [sys.executable, "-m", "ppo.train", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert "--no-action-masking" in proc.stdout
    assert f"(default: {TrainConfig().num_envs})" in proc.stdout


def test_config__a_device_batch_past_int32_is_refused():
    """2**24 envs x 256 steps on one device: 2**32 transitions, past the int32 indices of the
    window's shuffle (it would wrap silently where the memory estimate cannot refuse it)."""
    from ppo.config import validate_static

    ok = TrainConfig(num_envs=2**24, rollout_steps=127, minibatches=1, num_devices=1)
    bad = TrainConfig(num_envs=2**24, rollout_steps=128, minibatches=1, num_devices=1)
    message = "must be below 2**31 = 2,147,483,648"
    with pytest.raises(ConfigError) as e:
        validate_static(bad)
    assert message in str(e.value)
    try:
        validate_static(ok)
    except ConfigError as err:  # too big for this machine's memory, but within int32
        assert message not in str(err)
