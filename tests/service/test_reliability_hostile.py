"""Issue 13, members of each kind found by a hostile pass (break13): record files that are
no regular files (they must never block a request), run-dir entries that cannot be checked,
W&B runs whose id is garbage, replays of damaged records or checkpoints (a close code, never
an exception or an unbounded allocation), and the rate limit's wait never infinite."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect
from svc_env import API_KEY, ENTITY, PROJECT, REAL_RUN
from svc_records import write_run

from tools.wandb_stub import StubWandb, load_runs

ENDPOINTS = [
    "/api/local/runs",
    "/api/local/runs/r/summary",
    "/api/local/runs/r/history",
    "/api/local/runs/r/iterations",
    "/api/local/runs/r/iterations/0",
]
# A request that blocks on a FIFO never answers; a generous bound turns that into a failure
# instead of a hung suite (a good answer takes milliseconds).
_ANSWER_WITHIN_S = 60


def _get(client, url: str):
    got: dict = {}
    worker = threading.Thread(target=lambda: got.setdefault("r", client.get(url)), daemon=True)
    worker.start()
    worker.join(_ANSWER_WITHIN_S)
    assert "r" in got, f"{url} did not answer (blocked reading a record)"
    return got["r"]


def _fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def _to_dev_zero(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")


def _loop(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(path)


NON_REGULAR = {
    "lock_fifo": ("lock", _fifo),
    "lock_dev_zero": ("lock", _to_dev_zero),
    "lock_symlink_loop": ("lock", _loop),
    "windows_fifo": ("windows.jsonl", _fifo),
    "windows_dev_zero": ("windows.jsonl", _to_dev_zero),
    "updates_fifo": ("updates.jsonl", _fifo),
    "eval_fifo": ("eval/0.json", _fifo),
    "eval_dev_zero": ("eval/0.json", _to_dev_zero),
}


@pytest.mark.parametrize("member", sorted(NON_REGULAR))
def test_hostile__a_record_that_is_no_regular_file_never_blocks(
    make_client, tmp_path: Path, member: str
) -> None:
    name, damage = NON_REGULAR[member]
    runs = tmp_path / "runs"
    path = write_run(runs, "r", windows=2, state="running")  # running: the lock is read
    damage(path / name)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    for url in ENDPOINTS:
        r = _get(client, url)
        # (404: windows.jsonl as no regular file holds no window 0; 502: unreadable)
        assert r.status_code in (200, 404, 502), (url, r.text)
    if name == "lock":  # an unreadable lock + an old heartbeat: crashed, or stalled when
        # whether a process holds it cannot be checked either (a symlink is not followed)
        (run,) = _get(client, "/api/local/runs").json()["runs"]
        assert run["state"] == ("crashed" if member == "lock_fifo" else "stalled")


def test_hostile__a_huge_lock_file_is_read_bounded(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "r", windows=2, state="running")
    with (path / "lock").open("wb") as f:  # 64 MiB of one JSON string: no trainer's lock
        f.write(b'{"hostname": "')
        f.truncate(64 << 20)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    r = _get(client, "/api/local/runs/r/summary")
    assert r.status_code == 200, r.text


RUNS_DIR_ENTRIES = {
    "symlink_loop": lambda runs: (runs / "zz").symlink_to(runs / "zz"),
    "dangling_symlink": lambda runs: (runs / "zz").symlink_to(runs / "nowhere"),
    "run_json_loop": lambda runs: (
        (runs / "zz").mkdir(),
        (runs / "zz" / "run.json").symlink_to(runs / "zz" / "run.json"),
    ),
}


@pytest.mark.parametrize("member", sorted(RUNS_DIR_ENTRIES))
def test_hostile__runs_dir_entries_that_cannot_be_checked_are_no_runs(
    make_client, tmp_path: Path, member: str
) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "r", windows=2)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    RUNS_DIR_ENTRIES[member](runs)  # while serving
    r = client.get("/api/local/runs")
    assert r.status_code == 200, r.text
    assert [x["run_id"] for x in r.json()["runs"]] == ["r"]


def test_hostile__runs_dir_replaced_by_a_file_while_serving_is_a_502(
    make_client, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "r", windows=2)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    shutil.rmtree(runs)
    runs.write_text("not a directory")
    r = client.get("/api/local/runs", headers={"Origin": "http://localhost:3000"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_error", r.text
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    runs.unlink()
    write_run(runs, "r", windows=2)
    assert client.get("/api/local/runs").status_code == 200


class _GarbageIdStub(StubWandb):
    """The stub, with every run's W&B id (`name` in GraphQL) replaced by `bad_id`."""

    bad_id: object = None

    def _node(self, run, full: bool) -> dict:
        return {**super()._node(run, full), "name": self.bad_id}


@pytest.mark.parametrize("bad_id", [None, 7, "a b", "../x", ""], ids=repr)
def test_hostile__wandb_run_ids_of_any_type(make_client, tmp_path: Path, bad_id) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "r", windows=2)
    stub = _GarbageIdStub(load_runs(runs), entity=ENTITY, project=PROJECT, api_key=API_KEY)
    stub.bad_id = bad_id
    stub.start()
    try:
        client = make_client(runs_dir=runs, wandb_base_url=stub.url)
        r = client.get("/api/wandb/runs")
        assert r.status_code == 200, r.text
        assert r.json()["runs"] == []  # no API path could name it
        r = client.get("/api/wandb/runs/r/summary")
        assert r.status_code == 200, r.text
        assert r.json()["run"]["run_id"] == "r"  # the id it was asked and found by
    finally:
        stub.stop()


def _meta(path: Path, change) -> None:
    meta = json.loads((path / "run.json").read_text())
    change(meta)
    (path / "run.json").write_text(json.dumps(meta))


REPLAY_DAMAGE = {
    # (damage, query, close code)
    "run_json_garbage": (lambda p: (p / "run.json").write_text("{garbage"), "", 1011),
    "run_json_garbage_no_iteration": (
        lambda p: (p / "run.json").write_text("{garbage"),
        "no_iteration",
        1011,
    ),
    "config_missing": (lambda p: _meta(p, lambda m: m.pop("config")), "", 4422),
    "config_not_object": (lambda p: _meta(p, lambda m: m.update(config=[1])), "", 4422),
    "hidden_none": (lambda p: _meta(p, lambda m: m["config"].update(hidden=None)), "", 4422),
    "hidden_text": (lambda p: _meta(p, lambda m: m["config"].update(hidden="abc")), "", 4422),
    "hidden_negative": (lambda p: _meta(p, lambda m: m["config"].update(hidden=-1)), "", 4422),
    # (before: the service built a 10**9-wide network from run.json before reading the file)
    "hidden_huge": (lambda p: _meta(p, lambda m: m["config"].update(hidden=10**9)), "", 4422),
    "layers_huge": (lambda p: _meta(p, lambda m: m["config"].update(layers=10**5)), "", 4422),
    "layers_missing": (lambda p: _meta(p, lambda m: m["config"].pop("layers")), "", 4422),
    "params_garbage": (
        lambda p: (p / "checkpoints/0/params.msgpack").write_bytes(b"garbage"),
        "",
        1011,
    ),
    "params_fifo": (lambda p: _fifo(p / "checkpoints/0/params.msgpack"), "", 1011),
    "params_missing": (lambda p: (p / "checkpoints/0/params.msgpack").unlink(), "", 4404),
    # (a damaged eval record reads as none: no replay seeds, so a seed must be passed)
    "eval_garbage_no_seed": (lambda p: (p / "eval/0.json").write_text("{x"), "no_seed", 4422),
    "eval_fifo_no_seed": (lambda p: _fifo(p / "eval/0.json"), "no_seed", 4422),
}


@pytest.mark.parametrize("member", sorted(REPLAY_DAMAGE))
def test_hostile__replay_of_damaged_records_closes_with_a_code(
    make_client, real_runs: Path, tmp_path: Path, member: str
) -> None:
    damage, query, code = REPLAY_DAMAGE[member]
    runs = tmp_path / "runs"
    shutil.copytree(real_runs / REAL_RUN, runs / REAL_RUN)
    os.utime(runs / REAL_RUN / "checkpoints/0/params.msgpack")  # no policy cached from before
    damage(runs / REAL_RUN)
    client = make_client(wandb=False, runs_dir=runs)
    url = f"/ws/replay/{REAL_RUN}?pace_ms=0"
    url += "" if query == "no_iteration" else "&iteration=0"
    url += "" if query == "no_seed" else "&seed=1"
    try:
        with client.websocket_connect(url) as ws:
            first = ws.receive()
    except WebSocketDisconnect as exc:
        first = {"type": "websocket.close", "code": exc.code, "reason": exc.reason}
    assert first["type"] == "websocket.close", first
    assert first["code"] == code, first
    assert first.get("reason"), first


def test_hostile__rate_limit_wait_is_finite_at_any_rate() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from analytics_service.ratelimit import RateLimitMiddleware

    app = FastAPI()
    app.get("/api/x")(lambda: {})
    app.add_middleware(RateLimitMiddleware, rate=5e-324, burst=1)  # 1/rate is inf
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/api/x").status_code == 200
    r = client.get("/api/x")
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 24 * 3600


@pytest.mark.parametrize("how", ["in_place_mtime_restored", "replaced_by_rename"])
def test_hostile__a_record_rewritten_with_its_old_size_and_mtime_is_read_again(
    make_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # `cp -p`/`rsync -t` over a run, or an atomic rewrite within one clock tick, leaves size
    # and mtime as they were: the parsed-file memo must not serve the old content forever.
    from analytics_service import records

    # (files just written are never memoised; trust them at once so the stamp is what counts)
    monkeypatch.setattr(records, "_RACY_NS", -(10**18))
    runs = tmp_path / "runs"
    path = write_run(runs, "r", windows=2)
    run_json = path / "run.json"
    _meta(path, lambda m: m.update(name="before"))
    old = run_json.stat()
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    assert client.get("/api/local/runs/r/summary").json()["run"]["name"] == "before"
    text = run_json.read_text().replace('"before"', '"after!"')
    if how == "in_place_mtime_restored":
        run_json.write_text(text)
    else:
        (path / "run.json.tmp").write_text(text)
        os.replace(path / "run.json.tmp", run_json)
    os.utime(run_json, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert run_json.stat().st_size == old.st_size
    assert client.get("/api/local/runs/r/summary").json()["run"]["name"] == "after!"


def _append(path: Path, name: str, data: bytes) -> None:
    with (path / name).open("ab") as f:
        f.write(data)


DEEP = b"[" * 5000 + b"]" * 5000
COLUMN_STORE_DAMAGE = {
    # the column store, the updates index and the replayable list (dashsvc's new readers)
    "windows_fifo": lambda p: _fifo(p / "windows.jsonl"),
    "windows_dev_zero": lambda p: _to_dev_zero(p / "windows.jsonl"),
    "windows_too_deep": lambda p: _append(
        p, "windows.jsonl", b'{"window_id": 3, "x": ' + DEEP + b'}\n{"window_id": 4}\n'
    ),
    "windows_5000_digits": lambda p: _append(
        p, "windows.jsonl", b'{"window_id": 3, "sps": 1' + b"0" * 5000 + b"}\n"
    ),
    "updates_fifo": lambda p: _fifo(p / "updates.jsonl"),
    "updates_5000_digit_window_id": lambda p: _append(
        p, "updates.jsonl", b'{"window_id": ' + b"1" * 5000 + b', "update": 1}\n'
    ),
    "checkpoint_dir_superscript_two": lambda p: (p / "checkpoints" / "\u00b2").mkdir(),
    "checkpoints_symlink_loop": lambda p: (
        shutil.rmtree(p / "checkpoints"),
        (p / "checkpoints").symlink_to(p / "checkpoints"),
    ),
    "eval_env_steps_past_64_bits": lambda p: (p / "eval/0.json").write_text(
        json.dumps({"env_steps": 2**80, "replay_seeds": [1]})
    ),
}


@pytest.mark.parametrize("member", sorted(COLUMN_STORE_DAMAGE))
def test_hostile__history_csv_replayable_never_a_500(
    make_client, tmp_path: Path, member: str
) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "r", windows=3)
    (path / "checkpoints" / "0").mkdir(parents=True)
    (path / "checkpoints" / "0" / "meta.json").write_text("{}")
    COLUMN_STORE_DAMAGE[member](path)
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    for url in (
        "/api/local/runs/r/history",
        "/api/local/runs/r/history?keys=sps,env_steps&max_points=2",
        "/api/local/runs/r/windows.csv",
        "/api/local/runs/r/replayable",
        "/api/local/runs/r/iterations/0",
    ):
        r = _get(client, url)
        assert r.status_code in (200, 502), (url, r.status_code, r.text[:200])
    if member.startswith(("checkpoint", "eval")):
        windows = _get(client, "/api/local/runs/r/replayable").json()["windows"]
        assert [w["window_id"] for w in windows] == ([] if "loop" in member else [0])
