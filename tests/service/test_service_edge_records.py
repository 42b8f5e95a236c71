"""Edge cases of the records that a finished training run does not show: a running run
with a torn last line, windows without evaluation, a run with no windows yet, a corrupt
file. Checked on the local source and, through a second stub, on the W&B source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from svc_env import API_KEY, ENTITY, PROJECT
from svc_records import write_run

from analytics_service.wandb_stub import StubWandb, load_runs


@pytest.fixture(scope="module")
def edge_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("edge_runs")
    write_run(
        runs,
        "done-a",
        windows=6,
        state="finished",
        created=datetime(2026, 11, 20, tzinfo=UTC),
        eval_every=2,
    )
    # The running runs have fresh heartbeats (within the liveness bound): they read running.
    now = datetime.now(UTC)
    write_run(
        runs,
        "live-b",
        windows=3,
        state="running",
        created=now - timedelta(seconds=20),
        torn_tail=True,
    )
    write_run(runs, "empty-c", windows=0, state="running", created=now - timedelta(seconds=10))
    return runs


@pytest.fixture(scope="module")
def edge_stub(edge_runs: Path):
    server = StubWandb(load_runs(edge_runs), entity=ENTITY, project=PROJECT, api_key=API_KEY)
    server.start()
    yield server
    server.stop()


def _strip(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("source", "fetched_at", "stale")}


def test_edge__both_sources_agree_on_running_empty_and_eval_less_runs(
    make_client, edge_runs: Path, edge_stub
) -> None:
    client = make_client(runs_dir=edge_runs, wandb_base_url=edge_stub.url)
    urls = [
        "/api/{}/runs?limit=50",
        "/api/{}/runs/live-b/summary",
        "/api/{}/runs/empty-c/summary",
        "/api/{}/runs/empty-c/history",
        "/api/{}/runs/done-a/history",
        "/api/{}/runs/done-a/iterations?limit=4",
        "/api/{}/runs/done-a/iterations/1",
        "/api/{}/runs/done-a/iterations/2",
        "/api/{}/runs/live-b/iterations/2",
    ]
    for url in urls:
        local = client.get(url.format("local"))
        wandb = client.get(url.format("wandb"))
        assert local.status_code == wandb.status_code == 200, (url, local.text, wandb.text)
        assert _strip(wandb.json()) == _strip(local.json()), url


def test_edge__content_of_edge_runs(make_client, edge_runs: Path) -> None:
    client = make_client(wandb=False, runs_dir=edge_runs)
    runs = client.get("/api/local/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == ["empty-c", "live-b", "done-a"]  # newest first
    assert runs[0]["window_id"] is None and runs[0]["env_steps"] is None
    assert runs[1]["state"] == "running" and runs[1]["window_id"] == 2  # torn line ignored
    assert [r["run_id"] for r in client.get("/api/local/runs?limit=1").json()["runs"]] == [
        "empty-c"
    ]
    empty = client.get("/api/local/runs/empty-c/summary").json()
    assert set(empty["kpis"].values()) == {None}
    assert client.get("/api/local/runs/empty-c/history").json()["rows"] == []
    assert client.get("/api/local/runs/done-a/iterations/1").json()["eval"] is None
    assert client.get("/api/local/runs/done-a/iterations/2").json()["eval"] is not None
    # KPIs: each key's latest non-null value (window 5 has no eval; window 4 has)
    kpis = client.get("/api/local/runs/done-a/summary").json()["kpis"]
    rows = client.get("/api/local/runs/done-a/history").json()["rows"]
    assert rows[5]["eval/return_mean"] is None
    assert kpis["eval/return_mean"] == rows[4]["eval/return_mean"]
    assert kpis["window_id"] == 5


def test_edge__corrupt_records_are_502_not_500(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "broken", windows=3)
    lines = (path / "windows.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]  # a corrupt line in the middle
    (path / "windows.jsonl").write_text("\n".join(lines) + "\n")
    client = make_client(wandb=False, runs_dir=runs)
    r = client.get("/api/local/runs/broken/history")
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_error"
    (path / "run.json").write_text("{not json")
    assert client.get("/api/local/runs/broken/summary").status_code == 502
    assert client.get("/api/local/runs").json()["runs"] == []  # not listed, no error


def test_edge__new_windows_show_up(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "grow", windows=2, state="running")
    client = make_client(wandb=False, runs_dir=runs, local_memo_s=0)
    assert len(client.get("/api/local/runs/grow/history").json()["rows"]) == 2
    write_run(runs, "grow", windows=3, state="running")
    assert len(client.get("/api/local/runs/grow/history").json()["rows"]) == 3


def test_edge__large_bodies_are_gzipped_once_and_identical(make_client, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "long", windows=200, updates_per_window=2)
    client = make_client(wandb=False, runs_dir=runs)
    zipped = client.get("/api/local/runs/long/history", headers={"Accept-Encoding": "gzip"})
    plain = client.get("/api/local/runs/long/history", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json() and len(plain.json()["rows"]) == 200
    small = client.get("/api/local/runs/long/summary", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
