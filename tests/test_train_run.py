"""End-to-end tiny training runs: records and schemas, determinism, resume after a kill,
the NaN guard, --num-seeds, W&B offline files and ppo.policy.load.

Sizes are tiny (32 envs, 4 windows) so the file runs in about a minute on 2 cores; the
programs compiled are the same ones a full-size run compiles.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import jsonschema
import numpy as np
import pytest

from ppo import checkpoint, policy, records
from ppo.config import ConfigError, TrainConfig
from ppo.metrics import PHASE_KEYS, TIMING_KEYS, UPDATE_KEYS, WINDOW_ROW_KEYS
from ppo.train import TrainingFailed, train

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = {
    n: json.loads((REPO / "docs" / "schemas" / f"{n}.schema.json").read_text())
    for n in ("run", "window_row", "update_row", "eval")
}
TINY = dict(
    num_envs=32,
    rollout_steps=16,
    updates_per_window=2,
    total_steps=4 * 32 * 16 * 2,
    epochs=2,
    minibatches=2,
    hidden=32,
    eval_episodes=8,
    keep_checkpoints=2,
    wandb="disabled",
)


def _validate(schema: str, doc: dict) -> None:
    jsonschema.Draft202012Validator(
        SCHEMAS[schema], format_checker=jsonschema.FormatChecker()
    ).validate(doc)


def _metrics(rows: list[dict]) -> list[dict]:
    """Rows without the timing keys (which differ run to run)."""
    timing = (*TIMING_KEYS, *PHASE_KEYS)
    return [{k: v for k, v in r.items() if k not in timing} for r in rows]


@pytest.fixture(scope="module")
def wandb_env(tmp_path_factory):
    """The real wandb client, isolated in temp dirs, no key (offline)."""
    home = tmp_path_factory.mktemp("wandb_home")
    saved = {
        k: os.environ.get(k)
        for k in ("HOME", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DIR", "WANDB_API_KEY")
    }
    os.environ.update(
        HOME=str(home),
        WANDB_CONFIG_DIR=str(home / "cfg"),
        WANDB_CACHE_DIR=str(home / "cache"),
        WANDB_DIR=str(home / "dir"),
    )
    os.environ.pop("WANDB_API_KEY", None)
    yield home
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def run_a(runs_dir, wandb_env) -> Path:
    """The reference tiny run, with W&B offline."""
    cfg = TrainConfig(**{**TINY, "wandb": "offline"}, run_dir=str(runs_dir), run_id="run-a")
    (d,) = train(cfg)
    return d


def test_train__records_complete_and_match_schemas(run_a):
    meta = records.read_run(run_a)
    _validate("run", meta)
    assert meta["state"] == "finished"
    assert meta["windows_completed"] == 4
    assert meta["last_checkpoint"] == 3
    windows = records.read_windows(run_a)
    assert [w["window_id"] for w in windows] == [0, 1, 2, 3]
    for w in windows:
        _validate("window_row", w)
        assert list(w) == list(WINDOW_ROW_KEYS)
        assert w["env_steps"] == (w["window_id"] + 1) * 32 * 16 * 2
    assert windows[0]["compile_s"] > 0 and windows[1]["compile_s"] is None
    ups = records.read_updates(run_a)
    assert [u["update"] for u in ups] == list(range(8))
    for u in ups:
        _validate("update_row", u)
        assert set(u) == set(UPDATE_KEYS)
    assert [u["update"] for u in records.read_updates(run_a, 2)] == [4, 5]
    for w in range(4):
        ev = records.read_eval(run_a, w)
        _validate("eval", ev)
        assert ev["episodes"] == 8 and ev["seeds"] == {"base": 1_000_000, "count": 8}
        assert sum(ev["histograms"]["profit"]["counts"]) == 8
        assert windows[w]["eval/return_mean"] == ev["return_mean"]
    # last N=2 checkpoints plus the best by eval return
    kept = checkpoint.complete_windows(run_a)
    assert kept[-2:] == [2, 3]
    best = meta["best_checkpoint"]["window_id"]
    assert set(kept) == {2, 3, best}
    assert records.list_runs(run_a.parent)[0]["run_id"] in {"run-a", "run-b"}


def test_train__wandb_offline_run_has_rows_at_documented_steps(run_a):
    meta = records.read_run(run_a)
    assert meta["wandb"]["mode"] == "offline" and meta["wandb"]["run_id"] == "run-a"
    files = list((run_a / "wandb").glob("offline-run-*/run-run-a.wandb"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    wandb_cli = Path(sys.executable).parent / "wandb"
    out = subprocess.run(
        [str(wandb_cli), "leet", "inspect", "--json", str(files[0])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    hist = [
        json.loads(line)["history"]
        for line in out.stdout.splitlines()
        if line.startswith("{") and '"type":"history"' in line
    ]
    by_step = {h["step"].get("num", 0): h["item"] for h in hist}
    windows = records.read_windows(run_a)
    for w in windows:
        row = by_step[w["last_update"] + w["window_id"] + 1]
        assert row["window_id"] == w["window_id"]
        assert row["eval/return_mean"] == pytest.approx(w["eval/return_mean"])
        # wandb.Histogram, flattened by the offline reader
        assert row["eval/profit_hist._type"] == "histogram"
        assert sum(row["eval/profit_hist.values"]) == 8
    for u in records.read_updates(run_a):
        assert by_step[u["update"] + u["window_id"]]["update"] == u["update"]


def test_train__same_config_same_metrics(run_a, runs_dir, wandb_env):
    cfg = TrainConfig(**TINY, run_dir=str(runs_dir), run_id="run-b")
    (d,) = train(cfg)
    assert _metrics(records.read_windows(d)) == _metrics(records.read_windows(run_a))
    assert records.read_updates(d) == records.read_updates(run_a)


def test_train__resume_after_kill_matches_uninterrupted(run_a, runs_dir, wandb_env):
    kill = str(REPO / "tests" / "kill_after_window.py")
    args = [sys.executable, kill, "2", "--run-dir", str(runs_dir), "--run-id", "run-k"]
    for k, v in TINY.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert proc.returncode == -9, proc.stderr[-2000:]
    d = runs_dir / "run-k"
    assert records.read_run(d)["state"] == "running"  # killed: no chance to say otherwise
    assert len(records.read_windows(d)) == 3
    (d2,) = train(TrainConfig(run_dir=str(runs_dir), resume="run-k", wandb="disabled"))
    assert d2 == d
    meta = records.read_run(d)
    assert meta["state"] == "finished" and meta["windows_completed"] == 4
    assert _metrics(records.read_windows(d)) == _metrics(records.read_windows(run_a))
    assert records.read_updates(d) == records.read_updates(run_a)
    for w in range(4):
        a, b = records.read_eval(d, w), records.read_eval(run_a, w)
        assert a == b


def test_train__stdout_reader_gone_ends_the_lines_not_the_run(run_a, runs_dir):
    """`python -m ppo.train ... | head -1`: the progress lines' reader goes away. The run
    used to die of BrokenPipeError at its next line (marked crashed, with a traceback); it
    finishes, with the records of an uninterrupted run."""
    args = [sys.executable, "-m", "ppo.train", "--run-dir", str(runs_dir), "--run-id", "run-p"]
    for k, v in {**TINY, "wandb": "disabled"}.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every line meets EPIPE
    try:
        proc = subprocess.run(
            args, stdout=write_end, stderr=subprocess.PIPE, env=env, cwd=REPO, timeout=600
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "BrokenPipe" not in err
    d = runs_dir / "run-p"
    assert records.read_run(d)["state"] == "finished"
    assert _metrics(records.read_windows(d)) == _metrics(records.read_windows(run_a))


def test_train__resume_unknown_run_is_a_clear_error(runs_dir):
    with pytest.raises(FileNotFoundError, match="no run records"):
        train(TrainConfig(run_dir=str(runs_dir), resume="nope"))


def test_train__existing_run_id_is_refused(run_a, runs_dir):
    with pytest.raises(ConfigError, match="already exists"):
        train(TrainConfig(**TINY, run_dir=str(runs_dir), run_id="run-a"))


class _NanAfterStep40:
    """CaravanEnv whose rewards turn NaN from each env's 40th step on (inside window 1)."""

    def __init__(self):
        from envjax import CaravanEnv

        self._env = CaravanEnv()
        self.default_params = self._env.default_params

    def reset(self, key, params):
        obs, s = self._env.reset(key, params)
        return obs, (s, jnp.int32(0))

    def reset_from_seed(self, seed, params, env_index=0):
        obs, s = self._env.reset_from_seed(seed, params, env_index)
        return obs, (s, jnp.int32(0))

    def step(self, key, state, action, params):
        s, t = state
        obs, s, r, te, tr, info = self._env.step(key, s, action, params)
        return obs, (s, t + 1), jnp.where(t >= 40, jnp.nan, r), te, tr, info

    def __getattr__(self, name):  # sizes and spaces (num_actions, ...) of the wrapped env
        return getattr(self._env, name)


def test_train__nan_stops_run_keeps_last_good_checkpoint(runs_dir):
    cfg = TrainConfig(
        **{**TINY, "total_steps": 40 * 32 * 16 * 2}, run_dir=str(runs_dir), run_id="run-nan"
    )
    with pytest.raises(TrainingFailed, match="non-finite") as e:
        train(cfg, env=_NanAfterStep40())
    d = runs_dir / "run-nan"
    meta = records.read_run(d)
    _validate("run", meta)
    assert meta["state"] == "failed" and "non-finite" in meta["error"]
    failed_window = int(str(e.value).split("window ")[1].split()[0])
    assert failed_window == 1
    assert meta["last_checkpoint"] == failed_window - 1
    assert checkpoint.complete_windows(d)[-1] == failed_window - 1
    assert len(records.read_windows(d)) == failed_window


def test_train__num_seeds_gives_independent_runs(runs_dir):
    cfg = TrainConfig(
        **{**TINY, "total_steps": 2 * 32 * 16 * 2, "num_seeds": 2},
        run_dir=str(runs_dir),
        run_id="multi",
    )
    dirs = train(cfg)
    assert [d.name for d in dirs] == ["multi-s0", "multi-s1"]
    rows = []
    for i, d in enumerate(dirs):
        meta = records.read_run(d)
        _validate("run", meta)
        assert meta["group"] == "multi" and meta["seed_index"] == i
        rows.append(records.read_updates(d))
        for w in records.read_windows(d):
            _validate("window_row", w)
    assert rows[0] != rows[1]


def test_policy__load_gives_jittable_valid_actions(run_a):
    from envjax import CaravanEnv

    env = CaravanEnv()
    obs, state = env.reset_from_seed(123, env.default_params)
    mask = env.action_mask(state, env.default_params)
    act = policy.load(run_a)
    greedy = policy.load(run_a, window_id=3, greedy=True)
    for i in range(20):
        a = int(act(obs, mask, jax.random.PRNGKey(i)))
        assert bool(mask[a])
        obs, state, *_ = env.step(jax.random.PRNGKey(0), state, jnp.int32(a), env.default_params)
        mask = env.action_mask(state, env.default_params)
    a1 = int(greedy(obs, mask, jax.random.PRNGKey(0)))
    a2 = int(greedy(obs, mask, jax.random.PRNGKey(1)))
    assert a1 == a2 and bool(mask[a1])
    batch = act(jnp.stack([obs, obs]), jnp.stack([mask, mask]), jax.random.PRNGKey(0))
    assert batch.shape == (2,)
    with pytest.raises(FileNotFoundError):
        policy.load(run_a, window_id=0 if 0 not in checkpoint.complete_windows(run_a) else 99)
    with pytest.raises(FileNotFoundError):
        policy.load(run_a.parent / "missing-run")


def test_records__torn_last_line_is_ignored(tmp_path):
    p = tmp_path / "windows.jsonl"
    records.append_jsonl(p, [{"window_id": 0, "x": float("nan")}, {"window_id": 1, "x": 1.0}])
    with open(p, "a") as f:
        f.write('{"window_id": 2, "x"')
    rows = records.read_jsonl(p)
    assert rows == [{"window_id": 0, "x": None}, {"window_id": 1, "x": 1.0}]


def test_checkpoint__corrupt_state_is_detected(run_a, tmp_path):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(run_a, d)
    w = checkpoint.complete_windows(d)[-1]
    p = d / "checkpoints" / str(w) / "state.msgpack"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt"):
        checkpoint.load_state(d, w, None)


def test_train__records_are_plain_json_numbers(run_a):
    """No NaN/Infinity tokens (strict JSON readers must load every line)."""

    def refuse(c: str) -> None:
        pytest.fail(f"{c} in the run records")

    for name in ("windows.jsonl", "updates.jsonl"):
        for line in (run_a / name).read_text().splitlines():
            json.loads(line, parse_constant=refuse)
    assert np.isfinite(records.read_windows(run_a)[-1]["loss/value"])
    assert dataclasses.asdict(TrainConfig())  # the config stays a plain dataclass


def test_plot__learning_curves_png_from_records(run_a, tmp_path):
    from ppo.plot import main as plot_main

    out = tmp_path / "curves.png"
    assert plot_main([str(run_a), "--out", str(out), "--heuristic-profit", "57761"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_main([str(run_a.parent / "missing"), "--out", str(out)]) == 2
