"""Issue 14 items 6, 7, 9-11: the CSV export at full resolution, every metric in the history
with a key filter, the runs table's fields and groups, and health naming missing sources.
Real uvicorn on loopback, the real tiny run, and the stub W&B loaded from it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from svc_contract import validate_response
from svc_env import API_KEY, ENTITY, PROJECT, REAL_RUN
from svc_records import write_run
from svc_server import running_service

from analytics_service.keys import WINDOW_KEYS
from analytics_service.wandb_stub import StubWandb, load_runs


def _wandb_env(url: str) -> dict[str, str]:
    return {
        "WANDB_API_KEY": API_KEY,
        "WANDB_ENTITY": ENTITY,
        "WANDB_PROJECT": PROJECT,
        "WANDB_BASE_URL": url,
    }


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "windows.jsonl").read_text().splitlines()]


def _csv_value(text: str, key: str):
    if text == "":
        return None
    if key == "timestamp":
        return text
    return (
        int(text)
        if key in ("window_id", "env_steps", "first_update", "last_update", "train/episodes")
        else float(text)
    )


@pytest.mark.parametrize("source", ["local", "wandb"])
def test_csv__every_window_and_every_key_at_full_resolution(
    real_runs: Path, stub: StubWandb, tmp_path: Path, source: str
) -> None:
    windows = _records(real_runs / REAL_RUN)
    env = _wandb_env(stub.url)
    with running_service(real_runs, tmp_path / "cache", tmp_path / "svc.log", env) as base:
        with httpx.stream("GET", f"{base}/api/{source}/runs/{REAL_RUN}/windows.csv") as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/csv")
            assert f'filename="{REAL_RUN}-windows.csv"' in r.headers["content-disposition"]
            text = "".join(r.iter_text())
        table = list(csv.reader(io.StringIO(text)))
        assert table[0] == list(WINDOW_KEYS)
        assert len(table) - 1 == len(windows)  # one row per window: none dropped
        for row, rec in zip(table[1:], windows, strict=True):
            got = {k: _csv_value(v, k) for k, v in zip(table[0], row, strict=True)}
            for key in WINDOW_KEYS:
                if key == "timestamp":
                    continue  # W&B holds its own log time (docs/API.md)
                assert got[key] == rec.get(key), (key, got[key], rec.get(key))  # exact floats
        hist = httpx.get(f"{base}/api/{source}/runs/{REAL_RUN}/history").json()
        assert hist["total_rows"] == len(table) - 1
        some = httpx.get(
            f"{base}/api/{source}/runs/{REAL_RUN}/windows.csv?keys=loss/entropy,opt/lr"
        ).text.splitlines()
        assert some[0] == "window_id,loss/entropy,opt/lr" and len(some) == len(windows) + 1
        bad = httpx.get(f"{base}/api/{source}/runs/{REAL_RUN}/windows.csv?keys=nope")
        assert bad.status_code == 422 and "nope" in bad.json()["error"]["message"]
        assert httpx.get(f"{base}/api/{source}/runs/nosuchrun/windows.csv").status_code == 404


def test_history__every_logged_metric_with_a_key_filter(make_client) -> None:
    client = make_client()
    openapi = client.get("/openapi.json").json()
    for source in ("local", "wandb"):
        url = f"/api/{source}/runs/{REAL_RUN}/history"
        full = client.get(url).json()
        assert full["keys"] == list(WINDOW_KEYS)
        for key in (
            "loss/entropy",
            "loss/approx_kl",
            "loss/clip_frac",
            "opt/grad_norm",
            "opt/lr",
            "loss/explained_variance",
        ):
            assert all(isinstance(r[key], float) for r in full["rows"]), key
        part = client.get(url + "?keys=opt/lr,loss/entropy&max_points=3").json()
        validate_response(openapi, "GET", "/api/{source}/runs/{run_id}/history", 200, part)
        assert part["keys"] == ["window_id", "opt/lr", "loss/entropy"]
        assert all(list(r) == part["keys"] for r in part["rows"])
        by_id = {r["window_id"]: r for r in full["rows"]}
        for r in part["rows"]:  # real rows, never averaged
            assert r["opt/lr"] == by_id[r["window_id"]]["opt/lr"]
        r = client.get(url + "?keys=eval/return_mean,bogus/key")
        assert r.status_code == 422 and "bogus/key" in r.json()["error"]["message"]


def _grouped_runs(runs: Path) -> None:
    # A `--num-seeds 2` group and a single run, written to the letter of RUN_RECORDS.md.
    for i, run_id in enumerate(("grp-s0", "grp-s1", "single")):
        path = write_run(runs, run_id, windows=3 + i, seed=i)
        meta = json.loads((path / "run.json").read_text())
        if run_id.startswith("grp"):
            meta.update(group="grp", seed_index=i)
            meta["config"].update(seed_index=i, num_seeds=2)  # as the trainer writes it
        meta["code_version"] = "abc1234"
        (path / "run.json").write_text(json.dumps(meta))


def test_runs__table_fields_and_a_group_in_one_request(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _grouped_runs(runs)
    stub = StubWandb(load_runs(runs), entity=ENTITY, project=PROJECT, api_key=API_KEY)
    stub.start()
    try:
        env = _wandb_env(stub.url)
        with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", env) as base:
            openapi = httpx.get(f"{base}/openapi.json").json()
            for source in ("local", "wandb"):
                body = httpx.get(f"{base}/api/{source}/runs?limit=200").json()
                validate_response(openapi, "GET", "/api/{source}/runs", 200, body)
                by_id = {r["run_id"]: r for r in body["runs"]}
                assert set(by_id) == {"grp-s0", "grp-s1", "single"}
                for run_id, r in by_id.items():
                    rows = _records(runs / run_id)
                    assert r["duration_s"] == rows[-1]["wall_time_s"]
                    assert r["kpis"]["eval/return_mean"] == rows[-1]["eval/return_mean"]
                    assert r["config"]["num_envs"] == 16 and r["state"] == "finished"
                    assert r["code_version"] == "abc1234", source
                assert (by_id["grp-s1"]["group"], by_id["grp-s1"]["seed_index"]) == ("grp", 1)
                assert by_id["single"]["group"] is None
                group = httpx.get(f"{base}/api/{source}/runs?group=grp").json()["runs"]
                assert sorted(r["run_id"] for r in group) == ["grp-s0", "grp-s1"], source
                summary = httpx.get(f"{base}/api/{source}/runs/grp-s1/summary").json()
                assert summary["run"]["group"] == "grp"
                assert summary["run"]["full_config"]["gamma"] == 0.99  # beyond the subset
            health = httpx.get(f"{base}/api/health").json()
            assert health["sources"]["wandb"]["available"] is True
            assert health["sources"]["wandb"]["reason"] is None
    finally:
        stub.stop()


def test_health__names_each_missing_source_and_why(tmp_path: Path) -> None:
    missing = tmp_path / "no-runs-here"
    with running_service(missing, tmp_path / "cache", tmp_path / "svc.log", {}) as base:
        health = httpx.get(f"{base}/api/health").json()
    wandb, local = health["sources"]["wandb"], health["sources"]["local"]
    assert wandb["available"] is False and "WANDB_API_KEY" in wandb["reason"]
    assert local["available"] is False and "does not exist" in local["reason"]
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_service(runs, tmp_path / "cache2", tmp_path / "svc2.log", {}) as base:
        local = httpx.get(f"{base}/api/health").json()["sources"]["local"]
    assert local == {**local, "available": True, "reason": None}
