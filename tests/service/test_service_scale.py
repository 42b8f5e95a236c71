"""Long runs and many runs without repeated work, shown by counting work (column builds,
bodies built, files opened), never by timing: a kept history body per records version,
the background warm-up of a long run's columns, and a runs list that re-reads only the
runs that changed. (Speed figures: `python -m analytics_service.bench_history`.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from svc_records import write_run

from analytics_service import bodies, columns, records
from analytics_service.app import create_app
from analytics_service.bench_history import write_synthetic_run
from analytics_service.settings import Settings


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator:
    """`make_app(runs_dir, **settings)`: a TestClient (lifespan run) of a local-only app."""
    clients: list[TestClient] = []

    def make(runs_dir: Path, **overrides) -> TestClient:
        values = {
            "runs_dir": runs_dir,
            "cache_dir": tmp_path / "cache",
            "rate_limit_per_s": 10_000,
            "rate_limit_burst": 10_000,
            "local_memo_s": 0,
            "warm_runs": 0,
            **overrides,
        }
        client = TestClient(create_app(Settings(_env_file=None, **values)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _warmer(client: TestClient):
    return client.app.state.services.warmer


def _append_window(path: Path, window_id: int) -> None:
    rows = (path / "windows.jsonl").read_text().splitlines()
    row = json.loads(rows[-1])
    row["window_id"] = window_id
    row["eval/return_mean"] = 12345.0
    with (path / "windows.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")


def test_history__one_body_per_records_version_and_a_new_one_after_an_append(
    make_app, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    path = write_synthetic_run(runs, "long", 1500)
    client = make_app(runs)
    url = "/api/local/runs/long/history?max_points=200"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    builds, misses, hits = columns.store.builds, bodies.store.misses, bodies.store.hits
    again = client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert first.json() == again.json() == plain.json()
    # the same records: the kept body answers both encodings; nothing rebuilt or re-encoded
    assert (columns.store.builds, bodies.store.misses) == (builds, misses)
    assert bodies.store.hits == hits + 2
    # an appended window makes a new version: a new body holding it (the columns are
    # extended, not rebuilt)
    _append_window(path, 1500)
    fresh = client.get(url).json()
    assert fresh["total_rows"] == 1501 and fresh["rows"][-1]["window_id"] == 1500
    assert fresh["rows"][-1]["eval/return_mean"] == 12345.0
    assert columns.store.builds == builds and bodies.store.misses == misses + 1
    # other parameters: their own bodies, of the same rows
    few = client.get(url + "&keys=eval/return_mean").json()
    assert few["keys"] == ["window_id", "eval/return_mean"] and few["total_rows"] == 1501


def test_warmup__a_listed_or_recent_long_run_is_ready_before_its_first_history(
    make_app, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    write_synthetic_run(runs, "newest", 3000)
    # At start-up the newest runs are warmed in the background.
    client = make_app(runs, warm_runs=4)
    assert _warmer(client).idle(timeout=120)
    assert _warmer(client).warmed == 1
    builds, misses = columns.store.builds, bodies.store.misses
    r = client.get("/api/local/runs/newest/history?max_points=1000")
    assert r.status_code == 200 and r.json()["total_rows"] == 3000
    assert columns.store.builds == builds  # no parse of windows.jsonl on the first request
    assert bodies.store.misses == misses  # and the default body was ready too

    # Without the start-up warm-up, listing the runs warms them.
    runs2 = tmp_path / "runs2"
    write_synthetic_run(runs2, "listed", 3000)
    client2 = make_app(runs2)
    assert client2.get("/api/local/runs").status_code == 200
    assert _warmer(client2).idle(timeout=120) and _warmer(client2).warmed == 1
    builds = columns.store.builds
    assert client2.get("/api/local/runs/listed/history").status_code == 200
    assert columns.store.builds == builds

    # Control: a run nobody warmed is built by its first request (the counter counts).
    write_synthetic_run(runs2, "cold", 50)
    builds = columns.store.builds
    assert client2.get("/api/local/runs/cold/history").status_code == 200
    assert columns.store.builds == builds + 1


def test_warmup__a_damaged_run_is_skipped_and_left_to_the_request(make_app, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "damaged", windows=3)
    lines = (path / "windows.jsonl").read_text().splitlines()
    lines[0] = "{not json"
    (path / "windows.jsonl").write_text("\n".join(lines) + "\n")
    write_run(runs, "fine", windows=3)
    client = make_app(runs)
    warmer = _warmer(client)
    # (the runs list leaves a run with unreadable records out, so it is queued directly)
    warmer.request(["damaged", "nosuchrun", "fine"])
    assert warmer.idle(timeout=60)
    assert warmer.failed >= 1 and warmer.warmed >= 1
    assert client.get("/api/local/runs/damaged/history").status_code == 502
    assert client.get("/api/local/runs/fine/history").status_code == 200


def test_runs_list__many_runs_re_read_only_the_runs_that_changed(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (files just written are never memoised; trust them at once so the stamps are what count)
    monkeypatch.setattr(records, "_RACY_NS", -(10**18))
    runs = tmp_path / "runs"
    n = 300
    for i in range(n):
        write_run(runs, f"r{i:04d}", windows=2, updates_per_window=1, eval_every=10)
    client = make_app(runs)
    warmer = _warmer(client)  # (it reads the listed runs' windows: counted apart)
    reads = records.reads
    first = client.get("/api/local/runs?limit=200").json()["runs"]
    assert len(first) == 200 and records.reads - reads >= n  # every run read once
    assert warmer.idle(timeout=60)
    reads = records.reads
    again = client.get("/api/local/runs?limit=200").json()["runs"]
    assert warmer.idle(timeout=60)
    assert records.reads == reads  # unchanged runs: stats only, no file opened
    assert [r["run_id"] for r in again] == [r["run_id"] for r in first]
    # one run gets a window: only its windows.jsonl is read again, and the list shows it
    _append_window(runs / "r0250", 2)
    reads = records.reads
    rows = client.get("/api/local/runs?limit=200").json()["runs"]
    assert warmer.idle(timeout=60)
    assert records.reads - reads == 1
    assert next(r for r in rows if r["run_id"] == "r0250")["window_id"] == 2
    # a removed run leaves the list (its memo entry too)
    (runs / "r0260" / "run.json").unlink()
    ids = {r["run_id"] for r in client.get("/api/local/runs?limit=200").json()["runs"]}
    assert "r0260" not in ids and len(ids) == 200


def test_bodies__concurrent_requests_for_one_body_build_it_once() -> None:
    import threading
    import time

    cache = bodies.BodyCache()
    started, release = threading.Event(), threading.Event()
    builds: list[int] = []

    def build() -> bodies.Body:
        builds.append(1)
        started.set()
        assert release.wait(30)
        return bodies.Body(b"{}")

    got: list[bodies.Body] = []
    first = threading.Thread(target=lambda: got.append(cache.get_or_build("k", build)))
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=lambda: got.append(cache.get_or_build("k", build)))
    second.start()
    deadline = time.monotonic() + 30
    while cache.misses < 2:  # the second caller has missed and now waits for the first
        assert time.monotonic() < deadline
        time.sleep(0.01)
    release.set()
    first.join(30)
    second.join(30)
    assert len(builds) == 1 and len(got) == 2 and got[0] is got[1]


def test_history__the_wandb_source_keeps_its_bodies_per_fetch_too(make_client) -> None:
    from svc_env import REAL_RUN

    client = make_client()
    url = f"/api/wandb/runs/{REAL_RUN}/history?max_points=3"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.json()["source"] == "wandb"
    misses, hits = bodies.store.misses, bodies.store.hits
    again = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert again.json() == first.json()
    # the same W&B fetch (cached rows): the kept body, not a new one
    assert (bodies.store.misses, bodies.store.hits) == (misses, hits + 1)
    local = client.get(f"/api/local/runs/{REAL_RUN}/history?max_points=3").json()
    assert {k: v for k, v in local.items() if k not in ("source", "fetched_at")} == {
        k: v for k, v in first.json().items() if k not in ("source", "fetched_at")
    }
