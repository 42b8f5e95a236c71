"""Issue 13 row 2 (reader side): a `running` run whose trainer vanished reads crashed or
stalled, by docs/RUN_RECORDS.md "Liveness and the run lock"; a resumed run reads running.

The trainer's side of the contract (lock file + heartbeat) is played by child processes
that hold the flock, and are SIGKILLed, exactly as a trainer would be."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from svc_env import API_KEY, ENTITY, PROJECT
from svc_records import write_run
from svc_server import running_service

from analytics_service import liveness
from analytics_service.wandb_stub import StubWandb, load_runs

HOLDER = textwrap.dedent(
    """
    import fcntl, json, os, socket, sys
    f = open(sys.argv[1], "a+")
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    f.truncate(0)
    f.write(json.dumps({"pid": os.getpid(), "hostname": socket.gethostname(),
                        "started_at": "2026-11-29T00:00:00Z"}))
    f.flush()
    print("locked", flush=True)
    sys.stdin.read()  # until killed
    """
)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _set_heartbeat(run: Path, age_s: float, state: str = "running") -> None:
    meta = json.loads((run / "run.json").read_text())
    meta["updated_at"] = _iso(datetime.now(UTC) - timedelta(seconds=age_s))
    meta["state"] = state
    (run / "run.json").write_text(json.dumps(meta))


class Trainer:
    """A process holding the run's lock, as a live trainer does."""

    def __init__(self, run: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(run / "lock")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline() == "locked\n"

    def sigkill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()  # the OS has dropped its lock once it is reaped
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.stdout.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.sigkill()


@pytest.fixture
def trainers():
    started: list[Trainer] = []

    def start(run: Path) -> Trainer:
        t = Trainer(run)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


def _state(client, run_id: str) -> str:
    listed = {
        r["run_id"]: r["state"] for r in client.get("/api/local/runs?limit=50").json()["runs"]
    }
    summary = client.get(f"/api/local/runs/{run_id}/summary").json()["run"]["state"]
    assert listed[run_id] == summary
    return summary


def test_liveness__sigkilled_trainer_reads_crashed_and_a_resume_running(
    make_client, tmp_path: Path, trainers
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "live", windows=1, state="running")
    _set_heartbeat(run, age_s=1)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    trainer = trainers(run)
    assert _state(client, "live") == "running"
    trainer.sigkill()  # after its first window, as in the issue
    assert _state(client, "live") == "crashed"  # at once: this host's lock is free
    trainers(run)  # --resume takes the lock again
    _set_heartbeat(run, age_s=0)
    assert _state(client, "live") == "running"


def test_liveness__held_lock_with_a_stale_heartbeat_reads_stalled(
    make_client, tmp_path: Path, trainers
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "hung", windows=3, state="running")  # window_time_s 1.5 s
    trainers(run)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    _set_heartbeat(run, age_s=100)
    assert _state(client, "hung") == "running"  # within the 120 s floor
    _set_heartbeat(run, age_s=130)
    assert _state(client, "hung") == "stalled"


@pytest.mark.parametrize(
    ("lock", "age_s", "expected"),
    [
        (None, 30, "running"),  # no lock file (older trainer): the heartbeat decides
        (None, 200, "crashed"),
        ("other-host", 30, "running"),  # cannot be checked from here: the heartbeat decides
        ("other-host", 200, "stalled"),
        ("this-host", 1, "crashed"),  # a lock left by a dead trainer on this host
        ("garbage", 1, "running"),  # a trainer writing its lock right now
        ("garbage", 700, "crashed"),
    ],
)
def test_liveness__lock_and_heartbeat_cases(
    make_client, tmp_path: Path, lock: str | None, age_s: float, expected: str
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "r", windows=2, state="running")
    _set_heartbeat(run, age_s=age_s)
    if lock == "garbage":
        (run / "lock").write_text('{"pid": 12')
    elif lock is not None:
        host = socket.gethostname() if lock == "this-host" else "some-other-machine"
        (run / "lock").write_text(json.dumps({"pid": 1, "hostname": host, "started_at": "x"}))
    client = make_client(wandb=False, runs_dir=runs)
    assert _state(client, "r") == expected
    assert json.loads((run / "run.json").read_text())["state"] == "running"  # never rewritten


def test_liveness__finished_and_failed_runs_are_left_alone(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for state in ("finished", "failed"):
        run = write_run(runs, state, windows=2, state=state)
        _set_heartbeat(run, age_s=10_000, state=state)
    client = make_client(wandb=False, runs_dir=runs)
    assert _state(client, "finished") == "finished"
    assert _state(client, "failed") == "failed"


def test_liveness__bound_follows_the_window_time_with_floors() -> None:
    assert liveness.bound_s([]) == 600  # before the first window: room to compile
    assert liveness.bound_s([1.5, 2.0, 1.0]) == 120  # the floor
    assert liveness.bound_s([60, 70, 1000]) == 350  # 5 x the median, not the mean
    assert liveness.bound_s([None, "x", float("nan"), 100]) == 500  # non-numbers ignored
    now = datetime.now(UTC)
    assert liveness.heartbeat_stale(None, 120, now) is True
    assert liveness.heartbeat_stale("not a time", 120, now) is True
    assert liveness.heartbeat_stale(_iso(now - timedelta(seconds=10)), 120, now) is False
    # a long window: 200 s without a heartbeat is still normal when windows take 60 s
    assert not liveness.heartbeat_stale(_iso(now - timedelta(seconds=200)), 300, now)


def test_liveness__before_the_first_window_compiling_is_not_a_crash(
    make_client, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "compiling", windows=0, state="running")
    _set_heartbeat(run, age_s=400)  # compiling for a while, no lock file, no rows yet
    client = make_client(wandb=False, runs_dir=runs)
    assert _state(client, "compiling") == "running"
    _set_heartbeat(run, age_s=700)
    client = make_client(wandb=False, runs_dir=runs)
    assert _state(client, "compiling") == "crashed"


def test_liveness__wandb_states_and_parity(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    now = datetime.now(UTC)
    write_run(runs, "alive", windows=2, state="running", created=now - timedelta(seconds=20))
    write_run(runs, "gone", windows=2, state="running", created=now - timedelta(hours=2))
    write_run(runs, "hung", windows=2, state="running", created=now - timedelta(hours=2))
    write_run(runs, "pre", windows=2, state="preempted")
    write_run(runs, "odd", windows=2, state="no-such-state")
    stub_runs = load_runs(runs)
    # W&B's own heartbeat of a hung trainer goes on (its wandb process lives); its last
    # logged window is old.
    stub_runs["hung"].heartbeat_at = now.strftime("%Y-%m-%dT%H:%M:%S")
    server = StubWandb(stub_runs, entity=ENTITY, project=PROJECT, api_key=API_KEY).start()
    try:
        client = make_client(runs_dir=runs, wandb_base_url=server.url)
        for source in ("local", "wandb"):
            listed = client.get(f"/api/{source}/runs?limit=50").json()["runs"]
            states = {r["run_id"]: r["state"] for r in listed}
            assert states["alive"] == "running", source
            assert states["gone"] == "crashed", source  # W&B: its heartbeat stopped
            assert states["pre"] == "crashed", source  # preempted: the machine went away
            assert states["odd"] == "unknown", source
        wandb = client.get("/api/wandb/runs/hung/summary").json()["run"]["state"]
        assert wandb == "stalled"  # W&B says running, no window logged within the bound
        for url in ("/api/{}/runs/gone/summary", "/api/{}/runs/alive/summary"):
            local, remote = (client.get(url.format(s)).json() for s in ("local", "wandb"))
            assert local["run"] == remote["run"], url
    finally:
        server.stop()


def test_liveness__real_service_shows_a_killed_trainer_as_crashed(tmp_path: Path, trainers) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "killed", windows=1, state="running")
    _set_heartbeat(run, age_s=1)
    trainer = trainers(run)
    env = {"ANALYTICS_LOCAL_MEMO_S": "0"}
    with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", env) as base:
        url = f"{base}/api/local/runs/killed/summary"
        assert httpx.get(url, timeout=30).json()["run"]["state"] == "running"
        trainer.sigkill()
        assert httpx.get(url, timeout=30).json()["run"]["state"] == "crashed"
        listed = httpx.get(f"{base}/api/local/runs", timeout=30).json()["runs"]
        assert listed[0]["state"] == "crashed"
