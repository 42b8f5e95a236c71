"""Issue 13, the trainer's side: bad numbers, absurd sizes, a bad --run-dir, a full disk,
two trainers on one run, resuming a --num-seeds group by its id, and a run killed before
its first checkpoint.

Bad commands run the real `python -m ppo.train` (exit 2, one line, before jax is imported);
the runs are tiny (32 envs). The full-disk and read-only cases mount a small tmpfs and are
skipped where this process may not mount one (not root).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from procs import sigint_not_ignored

from ppo import checkpoint, records, runlock
from ppo.config import ConfigError, TrainConfig, parse_args
from ppo.events import WindowDone
from ppo.runlock import RunLock, RunLocked
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
    wandb="disabled",
)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "ppo.train", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def _tiny_args() -> list[str]:
    out: list[str] = []
    for k, v in TINY.items():
        out += [f"--{k.replace('_', '-')}", str(v)]
    return out


BAD = [
    (["--ent-coef", "nan"], "--ent-coef must be a finite number >= 0"),
    (["--vf-coef", "inf"], "--vf-coef must be a finite number >= 0"),
    (["--max-grad-norm", "nan"], "--max-grad-norm must be a finite number >= 0"),
    (["--value-target-scale", "nan"], "--value-target-scale must be a positive finite number"),
    (["--reward-scale=-inf"], "--value-target-scale must be a positive finite number"),
    (["--lr", "nan"], "--lr must be a positive finite number"),
    (["--gamma", "nan"], "--gamma must be a finite number in [0, 1]"),
    (["--gae-lambda", "inf"], "--gae-lambda must be a finite number in [0, 1]"),
    (["--clip", "inf"], "--clip must be a positive finite number"),
    (["--max-wall-s", "nan"], "--max-wall-s must be a finite number"),
    (["--num-envs", "10000000000"], "--num-envs must be <= 16777216"),
    (["--rollout-steps", "1000000000"], "--rollout-steps must be <= 65536"),
    (["--seed", "99999999999999999999999"], "--seed must be <= 4294967295"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--updates-per-window", "1000000000"], "--updates-per-window must be <= 100000"),
    (["--eval-episodes", "1000000000"], "--eval-episodes must be <= 1048576"),
    (["--hidden", "1000000000"], "--hidden must be <= 65536"),
    (["--layers", "100000"], "--layers must be <= 64"),
    (["--total-steps", "1000000000000000000"], "--total-steps must be <= 10000000000000"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--num-seeds", "100000"], "--num-seeds must be <= 1024"),
    (["--keep-checkpoints", "0"], "--keep-checkpoints must be >= 1"),
    (["--num-devices", "-1"], "--num-devices must be >= 0"),
    (["--eval-seed-base", "4294967295"], "--eval-seed-base + --eval-episodes must stay"),
    (["--checkpoint-every", "-1"], "--checkpoint-every must be >= 0"),
    (["--peer-timeout-s", "0"], "--peer-timeout-s must be >= 1"),
    (["--join-timeout-s", "100000"], "--join-timeout-s must be <= 86400"),
    (["--num-processes", "0"], "--num-processes must be >= 1"),
    (["--process-id", "x"], "argument --process-id: 'x' is not an integer"),
    (["--coordinator", "nohost"], "--coordinator 'nohost' must be HOST:PORT or 'auto'"),
    (["--coordinator", "127.0.0.1:1", "--num-processes", "2"], "needs --process-id"),
    (["--total-steps", "10000000000000", "--num-envs", "1", "--minibatches", "1"], "windows of"),
    (["--hidden", "65536"], "of memory"),
    (["--num-envs", "16777216", "--rollout-steps", "100"], "of memory"),
    (["--num-envs", "1e3"], "argument --num-envs: '1e3' is not an integer"),
    (["--lr", "fast"], "argument --lr: 'fast' is not a number"),
    # float32 range: finite in Python, inf or 0 in the compiled program
    (["--ent-coef", "1e308"], "--ent-coef must be 0 or of magnitude in [1.175e-38, 3.403e+38]"),
    (["--value-target-scale", "1e39"], "--value-target-scale must be of magnitude in"),
    (["--lr", "1e-320"], "--lr must be of magnitude in [1.175e-38"),
    (["--clip", "1e-45"], "--clip must be of magnitude in [1.175e-38"),
    # negative numbers argparse would take for a flag ("expected one argument")
    (["--lr", "-inf"], "--lr must be a positive finite number (got -inf)"),
    (["--ent-coef", "-1e-3"], "--ent-coef must be >= 0 (got -0.001)"),
    (["--max-grad-norm", "-nan"], "--max-grad-norm must be a finite number >= 0"),
    # --resume names a folder under --run-dir: checked before anything is read
    (["--resume", "../x"], "--resume '../x' must match"),
    (["--resume="], "--resume '' must match"),
    (["--reward-scale", "nan"], "--value-target-scale must be a positive finite number"),
    (["--stall-s", "-5"], "--stall-s must be"),
    (["--stall-s", "nan"], "--stall-s must be"),
    (["--minibatch-chunk", "0"], "--minibatch-chunk must be"),
]


@pytest.mark.parametrize(("args", "needle"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_cli__bad_number_exits_2_with_one_line(tmp_path, args, needle):
    proc = _cli(*args, "--run-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert proc.stderr.count("warning:") <= 1, proc.stderr  # a deprecation warned once
    assert needle in lines[0]
    assert not (tmp_path / "runs").exists()  # checked before any work


def test_cli__bad_command_is_refused_before_jax_is_imported(tmp_path):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['ppo.train', '--ent-coef', 'nan']\n"
        "try:\n"
        "    runpy.run_module('ppo.train', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print(e.code, 'jax' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.stdout.split() == ["2", "False"], proc.stderr


@pytest.mark.parametrize("kind", ["file", "under-a-file"])
def test_cli__run_dir_that_is_not_a_directory(tmp_path, kind):
    f = tmp_path / "afile"
    f.write_text("x")
    target = f if kind == "file" else f / "runs"
    proc = _cli("--run-dir", str(target), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: --run-dir {target}")


def test_reward_scale__deprecated_alias_and_old_run_json_load(capsys):
    with pytest.warns(DeprecationWarning, match="--reward-scale"):
        cfg = parse_args(["--reward-scale", "0.5"])
    assert cfg.value_target_scale == 0.5
    assert "deprecated" in capsys.readouterr().err
    old = {**TrainConfig().to_json(), "reward_scale": 0.25}
    del old["value_target_scale"]
    assert TrainConfig.from_stored(old).value_target_scale == 0.25


def _fake_run(runs: Path, run_id: str, **config_changes) -> Path:
    d = runs / run_id
    w = records.RunWriter.create(
        d, run_id, run_id, {**TrainConfig(**TINY).to_json(), **config_changes}
    )
    return w.dir


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"ent_coef": None}, "--ent-coef must be a finite number >= 0 (got None)"),
        ({"num_envs": 1.5}, "--num-envs must be an integer (got 1.5)"),
        ({"hidden": 10**9}, "--hidden must be <= 65536"),
        ({"seed": "7"}, "--seed must be an integer"),
    ],
)
def test_resume__bad_stored_config_exits_2_naming_the_field(tmp_path, change, needle):
    _fake_run(tmp_path, "bad", **change)
    proc = _cli("--resume", "bad", "--run-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "run bad's stored config" in proc.stderr
    assert needle in proc.stderr


DAMAGED_RUN_JSON = [
    (b"garbage", "JSONDecodeError"),
    (b'{"run_id": "bad", "config": {"num_en', "JSONDecodeError: Unterminated string"),
    (b"", "JSONDecodeError"),
    (b"[1, 2]", "a JSON list, not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
    (b"\xff\xfe{", "UnicodeDecodeError"),
]


@pytest.mark.parametrize(
    ("content", "needle"),
    DAMAGED_RUN_JSON,
    ids=["garbage", "cut", "empty", "list", "deep", "bytes"],
)
def test_resume__damaged_run_json_exits_2_with_one_line(tmp_path, content, needle):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.json").write_bytes(content)
    proc = _cli("--resume", "bad", "--run-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"error: cannot resume bad: {tmp_path}/bad/run.json is damaged")
    assert needle in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--num-seeds", "4"], "drop --num-seeds 4 (stored: 1)"),
        (["--max-wall-s", "60", "--lr", "0.5"], "drop --lr 0.5 (stored: 0.001), --max-wall-s"),
        (["--seed", "-1"], "--seed must be >= 0"),
    ],
)
def test_resume__flags_it_would_ignore_or_bad_exit_2(tmp_path, args, needle):
    _fake_run(tmp_path, "one")
    proc = _cli("--resume", "one", "--run-dir", str(tmp_path), *args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert needle in proc.stderr


def test_run_id__existing_run_is_refused_before_jax(tmp_path):
    _fake_run(tmp_path, "taken")
    proc = _cli(
        "--run-id", "taken", "--run-dir", str(tmp_path), "--wandb", "disabled", cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr == f"error: run taken already exists in {tmp_path}; use --resume taken\n"


@pytest.mark.parametrize("value", ["garbage", "", "ONLINE"])
def test_cli__wandb_mode_variable_that_wandb_rejects(tmp_path, value):
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": value}
    proc = subprocess.run(
        [sys.executable, "-m", "ppo.train", "--wandb", "offline", "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith(f"error: WANDB_MODE={value!r} is not a W&B mode")


@pytest.mark.parametrize("kind", ["empty", "loop"])
def test_cli__run_dir_empty_or_symlink_loop(tmp_path, kind):
    if kind == "loop":
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
    target = "" if kind == "empty" else str(tmp_path / "a")
    proc = _cli(f"--run-dir={target}", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert ("must not be empty" if kind == "empty" else "looping symbolic link") in proc.stderr


def test_lock__second_trainer_on_a_live_run_is_refused(tmp_path):
    d = _fake_run(tmp_path, "live")
    lock = RunLock.acquire(d)  # this process stands for the live trainer
    try:
        proc = _cli("--resume", "live", "--run-dir", str(tmp_path), cwd=tmp_path)
        assert proc.returncode == 2
        assert f"is being trained by pid {os.getpid()} on " in proc.stderr
        assert proc.stderr.count("\n") == 1
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            RunLock.acquire(d)
        # a new run under the live run's id: the same answer
        proc = _cli("--run-id", "live", "--run-dir", str(tmp_path), cwd=tmp_path)
        assert proc.returncode == 2 and "is being trained by" in proc.stderr
    finally:
        lock.release()
    info = json.loads((d / "lock").read_text())
    assert info["pid"] == os.getpid() and info["hostname"] and info["started_at"]


def test_lock__a_dead_holder_does_not_block(tmp_path):
    d = tmp_path / "dead"
    code = (
        "import os, signal, sys; from pathlib import Path; from ppo.runlock import RunLock;"
        f"RunLock.acquire(Path({str(d)!r})); print('locked', flush=True);"
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == -signal.SIGKILL and "locked" in proc.stdout
    RunLock.acquire(d).release()  # the OS dropped the dead holder's lock


@pytest.mark.parametrize("retry_s", [runlock.RETRY_S, 0.0])
def test_lock__a_reader_holding_a_shared_lock_for_a_moment_does_not_refuse(
    tmp_path, monkeypatch, retry_s
):
    """The service's liveness reader holds LOCK_SH on the lock file for a moment: a trainer
    starting then retries (RETRY_S) instead of refusing. The reader lets go right after the
    trainer's first failed attempt (no timing luck); without the retry it is refused."""
    d = tmp_path / "run"
    d.mkdir()
    reader = os.open(d / "lock", os.O_RDONLY | os.O_CREAT, 0o644)
    fcntl.flock(reader, fcntl.LOCK_SH | fcntl.LOCK_NB)  # as analytics_service.liveness does
    real_flock, collisions = fcntl.flock, []

    def flock(fd: int, op: int) -> None:
        try:
            real_flock(fd, op)
        except BlockingIOError:
            collisions.append(op)
            real_flock(reader, fcntl.LOCK_UN)  # the reader is done with its check
            raise

    monkeypatch.setattr(runlock.fcntl, "flock", flock)
    monkeypatch.setattr(runlock, "RETRY_S", retry_s)
    try:
        if retry_s:
            runlock.RunLock.acquire(d).release()
        else:
            with pytest.raises(RunLocked):
                runlock.RunLock.acquire(d)
    finally:
        os.close(reader)
    assert collisions == [fcntl.LOCK_EX | fcntl.LOCK_NB]  # the first attempt did collide


def test_resume__group_id_after_a_kill_before_the_first_checkpoint(tmp_path):
    """`--resume ms` for a --num-seeds group; killed before any checkpoint, it restarts."""
    kill = str(REPO / "tests" / "kill_after_window.py")
    args = [sys.executable, kill, "0", "--run-dir", str(tmp_path), "--run-id", "ms"]
    args += [*_tiny_args(), "--num-seeds", "2", "--checkpoint-every", "3"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    for i in range(2):
        d = tmp_path / f"ms-s{i}"
        assert len(records.read_windows(d)) == 1 and checkpoint.complete_windows(d) == []
        assert records.read_run(d)["state"] == "running"
    # the service's reader (docs/RUN_RECORDS.md liveness) sees the killed trainer as crashed
    liveness = pytest.importorskip("analytics_service.liveness")
    from datetime import UTC, datetime

    def seen(run: str) -> str:
        meta = records.read_run(tmp_path / run)
        now = datetime.now(UTC)
        return liveness.effective_state(meta["state"], tmp_path / run, meta["updated_at"], [], now)

    assert seen("ms-s0") == seen("ms-s1") == "crashed"
    beats, states = [], []

    def progress(e) -> None:
        beats.append(records.read_run(tmp_path / "ms-s0")["updated_at"])
        states.append(seen("ms-s1"))

    dirs = train(
        TrainConfig(run_dir=str(tmp_path), resume="ms", wandb="disabled"), progress_fn=progress
    )
    assert set(states) == {"running"}  # the resumed trainer holds the lock again
    assert [d.name for d in dirs] == ["ms-s0", "ms-s1"]
    for d in dirs:
        meta = records.read_run(d)
        assert meta["state"] == "finished" and meta["windows_completed"] == 4
        assert [r["window_id"] for r in records.read_windows(d)] == [0, 1, 2, 3]
        assert checkpoint.complete_windows(d)[-1] == 3
        assert not (d / records.RESERVE_NAME).exists()
    assert len(set(beats)) == len(beats)  # run.json's heartbeat moves every window


@contextlib.contextmanager
def _tmpfs(path: Path, size: str, ro: bool = False):
    path.mkdir()
    opts = f"size={size}" + (",ro" if ro else "")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=False)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_run_dir__read_only_mount_is_refused_before_any_work(tmp_path):
    with _tmpfs(tmp_path / "ro", "1m", ro=True) as ro:
        proc = _cli("--run-dir", str(ro / "runs"), cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1
        assert "Read-only file system" in proc.stderr


def test_disk_full__run_failed_windows_kept_no_temporaries_then_resume(tmp_path):
    with _tmpfs(tmp_path / "fs", "4m") as fs:
        filler = fs / "filler"

        def fill_after_window_1(e) -> None:
            if isinstance(e, WindowDone) and e.window_id == 1:
                with open(filler, "wb") as f, contextlib.suppress(OSError):
                    while True:
                        f.write(b"\0" * 65536)

        cfg = TrainConfig(**TINY, run_dir=str(fs), run_id="full")
        with pytest.raises(OSError, match="No space left"):
            train(cfg, progress_fn=fill_after_window_1)
        d = fs / "full"
        meta = records.read_run(d)
        assert meta["state"] == "failed" and meta["error"].startswith("no space left on ")
        # windows 0 and 1 are kept; window 2's row may be written (its checkpoint failed)
        assert [r["window_id"] for r in records.read_windows(d)][:2] == [0, 1]
        assert checkpoint.complete_windows(d)[-1] == 1
        leftovers = [p.name for p in d.rglob("*") if ".tmp" in p.name]
        assert leftovers == []
        filler.unlink()
        (d2,) = train(TrainConfig(run_dir=str(fs), resume="full", wandb="disabled"))
        meta = records.read_run(d2)
        assert meta["state"] == "finished" and meta["error"] is None
        assert [r["window_id"] for r in records.read_windows(d2)] == [0, 1, 2, 3]


def test_config_error__names_flag_in_process():
    with pytest.raises(ConfigError, match=r"^--ent-coef must be a finite number >= 0"):
        TrainConfig(ent_coef=float("nan")).derived(1)


def test_memory_estimate__env_state_size_matches_the_env():
    import jax

    from envjax import CaravanEnv
    from ppo.resources import ENV_STATE_BYTES

    env = CaravanEnv()
    _, state = jax.eval_shape(lambda: env.reset(jax.random.PRNGKey(0), env.default_params))
    real = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
    assert real <= ENV_STATE_BYTES <= 2 * real


OTHER_ENTRY_POINTS = [
    ("profiler", ["--num-envs", "10000000000"], "--num-envs must be <= 16777216"),
    ("profiler", ["--rollout-steps", "1000000000"], "--rollout-steps must be <= 65536"),
    ("profiler", ["--seed", "99999999999999999999999"], "--seed must be <= 4294967295"),
    ("profiler", ["--updates-per-window", "1000000000"], "--updates-per-window must be <="),
    ("profiler", ["--eval-episodes", "1000000000"], "--eval-episodes must be <= 1048576"),
    ("profiler", ["--target-steps-per-sec", "nan"], "must be a positive finite number"),
    ("profiler", ["--target-steps-per-sec", "inf"], "must be a positive finite number"),
    ("profiler", ["--repeats", "1000000000"], "--repeats must be <= 10000"),
    ("profiler", ["--peer-timeout-s", "0"], "--peer-timeout-s must be >= 1"),
    ("profiler", ["--mode", "trainer", "--set", "ent_coef=nan"], "--ent-coef must be a finite"),
    ("profiler", ["--mode", "trainer", "--set", "layers=100000"], "--layers must be <= 64"),
    ("profiler", ["--mode", "trainer", "--set", "nope=1"], "TrainConfig has no field 'nope'"),
    ("profiler", ["--sweep", "num_envs=8,100000000000"], "--num-envs must be <= 16777216"),
    (
        "profiler",
        ["--mode", "trainer", "--num-envs", "16777216", "--rollout-steps", "100"],
        "of memory",
    ),
    ("profiler", ["--out", "/dev/null"], "'/dev/null' is not a regular file"),
    ("profiler", ["--sweep", "num_envs=" + ",".join(map(str, range(8, 8000, 8)))], "at most 64"),
    ("profiler", ["--repeats", "1e9"], "argument --repeats: invalid int value: '1e9'"),
    ("profiler", ["--ceiling", "x"], "argument --ceiling: invalid choice: 'x'"),
    ("profiler", ["--target-steps-per-sec", "-1e3"], "must be a positive finite number"),
    ("profiler", ["--mode", "reference", "--plot", "/dev/null"], "'/dev/null' is not a regular"),
    ("envjax.bench", ["--num-envs", "10000000000"], "--num-envs must be in [1, 16777216]"),
    ("envjax.bench", ["--ref-seconds", "nan"], "--ref-seconds must be a finite number"),
    ("envjax.bench", ["--ref-seconds", "inf"], "--ref-seconds must be a finite number"),
    ("envjax.bench", ["--steps", "1000000000"], "--steps must be in [1, 1048576]"),
    ("envjax.bench", ["--repeats", "0"], "--repeats must be in [1, 10000]"),
    ("envjax.bench", ["--seed", "99999999999999999999999"], "--seed must be in [0, 2**32"),
    ("envjax.play", ["--seed", "4294967296"], "--seed must be in [0, 2**32)"),
    ("envjax.play", ["--seed", "-1"], "--seed must be in [0, 2**32)"),
    ("envjax.play", ["--seed", "1e3"], "argument --seed: invalid int value: '1e3'"),
    ("envjax.bench", ["--json", "/no/such/dir/x.json"], "folder /no/such/dir does not exist"),
    ("envjax.bench", ["--json", "/tmp"], "--json /tmp is a directory"),
    ("envjax.bench", ["--json", "/dev/null"], "--json /dev/null is not a regular file"),
    # the trainer benchmarks share the trainer's declarations (were tracebacks after jax)
    ("benchmarks.breakdown", ["--num-envs", "0"], "--num-envs must be >= 1 (got 0)"),
    ("benchmarks.breakdown", ["--repeats", "0"], "--repeats must be in [1, 10000]"),
    ("benchmarks.breakdown", ["--set", "nope=1"], "--set 'nope=1': expected KEY=VALUE"),
    ("benchmarks.breakdown", ["--set", "hidden=abc"], "--hidden must be an integer"),
    ("benchmarks.breakdown", ["--out", "/dev/null"], "--out '/dev/null' is not a regular file"),
    ("benchmarks.vs_peer", ["--repeats", "-1"], "--repeats must be in [1, 10000]"),
    ("benchmarks.ab_window", [], "the following arguments are required: --base"),
    ("benchmarks.ab_window", ["--base", "no-such-rev"], "--base 'no-such-rev': fatal: "),
    ("benchmarks.ab_window", ["--base", "HEAD", "--num-envs", "0"], "--num-envs must be >= 1"),
    ("benchmarks.vs_peer", ["--set", "lr=nan"], "--lr must be a positive finite number"),
    ("benchmarks.vs_peer", ["--num-envs", "10000000000"], "--num-envs must be <= 16777216"),
    ("ppo.launch", ["--processes", "10000"], "--processes must be in [1, 256]"),
    ("ppo.launch", ["--processes", "0"], "--processes must be in [1, 256]"),
    ("ppo.launch", ["--grace-s", "nan"], "--grace-s must be a finite number in [0, 3600]"),
    ("ppo.launch", ["--cpu-devices", "100000"], "--cpu-devices must be in [0, 1024]"),
    ("ppo.launch", ["--port", "70000"], "--port must be in 0..65535"),
    ("ppo.launch", ["--module", "no.such.mod"], "'no.such.mod' is not an importable module"),
    ("ppo.launch", ["--processes", "1e3"], "argument --processes: invalid int value"),
    # the trainer's arguments are checked once by the launcher, before N processes start
    ("ppo.launch", ["--", "--num-envs", "abc"], "argument --num-envs: 'abc' is not an integer"),
    ("ppo.launch", ["--", "--ent-coef", "1e308"], "--ent-coef must be 0 or of magnitude"),
    ("ppo.launch", ["--", "--resume", "../x"], "--resume '../x' must match"),
]


@pytest.mark.parametrize(
    ("module", "args", "needle"),
    OTHER_ENTRY_POINTS,
    ids=[f"{m} {' '.join(a)}" for m, a, _ in OTHER_ENTRY_POINTS],
)
def test_other_entry_points__bad_number_exits_2_with_one_line(tmp_path, module, args, needle):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = ["--out", str(tmp_path / "r.json")] if module == "profiler" else []
    out = [] if "--out" in args else out
    proc = subprocess.run(
        [sys.executable, "-m", module, *args, *out],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0], proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.json").exists()


def test_bench__bad_command_is_refused_before_jax_is_imported(tmp_path):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['envjax.bench', '--ref-seconds', 'nan']\n"
        "try:\n"
        "    runpy.run_module('envjax.bench', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    print(e.code, 'jax' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.stdout.split() == ["2", "False"], proc.stderr


def test_train__run_dir_that_is_a_file_is_a_config_error_in_process(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        train(TrainConfig(**TINY, run_dir=str(f)))


def test_sigint_not_ignored__children_get_the_default_even_when_this_process_ignores_it():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = "import signal; h = signal.getsignal(signal.SIGINT); print(h is signal.SIG_IGN, "
    code += "h is signal.default_int_handler)"
    probe = [sys.executable, "-c", code]
    try:
        ignored = subprocess.run(probe, capture_output=True, text=True, timeout=60).stdout
        with sigint_not_ignored():
            restored = subprocess.run(probe, capture_output=True, text=True, timeout=60).stdout
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # put back afterwards
    finally:
        signal.signal(signal.SIGINT, old)
    assert ignored.split() == ["True", "False"]  # what the test below would have inherited
    assert restored.split() == ["False", "True"]


@pytest.mark.parametrize(
    ("sig", "rc", "last_line"),
    [
        (signal.SIGTERM, 1, "terminated by signal 15"),
        (signal.SIGINT, 128 + signal.SIGINT, "interrupted"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_signal__during_a_long_window_stops_the_run_within_seconds(tmp_path, sig, rc, last_line):
    """SIGTERM or Ctrl-C while the device runs a window that would last minutes: the trainer
    waits on the window in Python (`ppo.ready.wait_ready`), so the handler runs at once, the
    run is marked crashed, and the process exits without waiting for the window (which
    nothing can cancel). Blocked inside the runtime, or in Python's shutdown, it would wait
    out the window (~131 M env steps here, minutes on any CPU) and miss the 60 s bound."""
    args = ["--num-envs", "1024", "--updates-per-window", "2000", "--total-steps", "131072000"]
    args += ["--eval-episodes", "0", "--wandb", "disabled", "--run-dir", str(tmp_path)]
    args += ["--run-id", "sigterm"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with sigint_not_ignored():
        proc = subprocess.Popen(
            [sys.executable, "-m", "ppo.train", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # "training ...: N windows ..." comes after the compile
            seen.append(line)
            if line.startswith("training "):
                break
        else:
            pytest.fail(f"no training line: rc={proc.wait()}\n{''.join(seen)[-3000:]}")
        meta = records.read_run(tmp_path / "sigterm")
        assert meta["state"] == "running" and meta.get("last_checkpoint") is None
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == rc, err[-3000:]
    assert err.strip().splitlines()[-1] == last_line, err[-3000:]
    meta = records.read_run(tmp_path / "sigterm")
    assert meta["state"] == "crashed", meta
    if sig == signal.SIGTERM:
        assert "signal 15" in meta["error"], meta
