"""Contract tests: every data endpoint on both sources, checked against the OpenAPI schema,
and the same run giving the same answer through /api/wandb and /api/local."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from svc_contract import validate_response
from svc_env import REAL_RUN

REPO = Path(__file__).resolve().parents[2]
ENVELOPE = ("source", "fetched_at", "stale")

ENDPOINTS = [
    ("/api/{source}/runs", "/api/{source}/runs?limit=5"),
    ("/api/{source}/runs/{run_id}/summary", f"/api/{{source}}/runs/{REAL_RUN}/summary"),
    ("/api/{source}/runs/{run_id}/history", f"/api/{{source}}/runs/{REAL_RUN}/history"),
    (
        "/api/{source}/runs/{run_id}/iterations",
        f"/api/{{source}}/runs/{REAL_RUN}/iterations?limit=3",
    ),
    (
        "/api/{source}/runs/{run_id}/iterations/{iteration}",
        f"/api/{{source}}/runs/{REAL_RUN}/iterations/2",
    ),
]


def _strip(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ENVELOPE}


def test_records__real_run_matches_the_json_schemas(real_runs: Path) -> None:
    schemas = {
        n: json.loads((REPO / "docs/schemas" / f"{n}.schema.json").read_text())
        for n in ("run", "window_row", "update_row", "eval")
    }
    run = real_runs / REAL_RUN
    jsonschema.validate(json.loads((run / "run.json").read_text()), schemas["run"])
    for name, file in (("window_row", "windows.jsonl"), ("update_row", "updates.jsonl")):
        lines = (run / file).read_text().splitlines()
        assert lines
        for line in lines:
            jsonschema.validate(json.loads(line), schemas[name])
    evals = sorted((run / "eval").glob("*.json"))
    assert evals
    for path in evals:
        jsonschema.validate(json.loads(path.read_text()), schemas["eval"])


@pytest.mark.parametrize("source", ["local", "wandb"])
def test_endpoints__answers_match_the_openapi_schema(make_client, source: str) -> None:
    client = make_client()
    openapi = client.get("/openapi.json").json()
    for template, url in ENDPOINTS:
        r = client.get(url.format(source=source))
        assert r.status_code == 200, (url, r.text)
        body = r.json()
        validate_response(openapi, "GET", template, 200, body)
        assert body["source"] == source and body["stale"] is False
    health = client.get("/api/health")
    validate_response(openapi, "GET", "/api/health", 200, health.json())
    assert health.json()["default_source"] == "wandb"


def test_endpoints__wandb_and_local_agree_on_the_same_run(make_client, stub) -> None:
    client = make_client()
    for _, url in ENDPOINTS:
        local = client.get(url.format(source="local")).json()
        wandb = client.get(url.format(source="wandb")).json()
        assert _strip(wandb) == _strip(local), url
    # every window's drill-down, not only one
    n = len(client.get(f"/api/local/runs/{REAL_RUN}/history").json()["rows"])
    assert n >= 3
    for w in range(n):
        url = f"/api/{{}}/runs/{REAL_RUN}/iterations/{w}"
        local = client.get(url.format("local")).json()
        wandb = client.get(url.format("wandb")).json()
        assert _strip(wandb) == _strip(local)
    # the stub understood every operation the real client sent
    assert stub.unknown_ops == []
    assert {"Viewer", "Runs", "Run", "RunHistoryKeys", "RunParquetHistory", "HistoryPage"} <= set(
        stub.counts
    )


def test_endpoints__content_reflects_the_records(make_client, real_runs: Path) -> None:
    client = make_client(wandb=False)
    run = real_runs / REAL_RUN
    windows = [json.loads(x) for x in (run / "windows.jsonl").read_text().splitlines()]
    meta = json.loads((run / "run.json").read_text())
    runs = client.get("/api/local/runs").json()["runs"]
    assert [r["run_id"] for r in runs] == [REAL_RUN]
    assert runs[0]["window_id"] == windows[-1]["window_id"]
    assert runs[0]["env_steps"] == windows[-1]["env_steps"]
    summary = client.get(f"/api/local/runs/{REAL_RUN}/summary").json()
    assert summary["run"]["config"]["num_envs"] == meta["config"]["num_envs"] == 16
    assert summary["run"]["state"] == meta["state"] == "finished"
    assert summary["kpis"]["window_id"] == windows[-1]["window_id"]
    assert summary["kpis"]["eval/return_mean"] == windows[-1]["eval/return_mean"]
    hist = client.get(f"/api/local/runs/{REAL_RUN}/history").json()
    assert [r["window_id"] for r in hist["rows"]] == [w["window_id"] for w in windows]
    assert hist["rows"][1]["loss/policy"] == windows[1]["loss/policy"]
    its = client.get(f"/api/local/runs/{REAL_RUN}/iterations?limit=2").json()["iterations"]
    assert [r["window_id"] for r in its] == [windows[-1]["window_id"], windows[-2]["window_id"]]
    detail = client.get(f"/api/local/runs/{REAL_RUN}/iterations/1").json()
    ev = json.loads((run / "eval" / "1.json").read_text())
    assert [u["update"] for u in detail["updates"]] == list(
        range(windows[1]["first_update"], windows[1]["last_update"] + 1)
    )
    assert detail["eval"]["histograms"]["return"]["counts"] == ev["histograms"]["return"]["counts"]
    assert detail["eval"]["action_mix"] == ev["action_mix"]
    assert detail["eval"]["replay_seeds"] == ev["replay_seeds"]


def test_history__downsamples_keeping_first_and_last(make_client) -> None:
    client = make_client()
    for source in ("local", "wandb"):
        body = client.get(f"/api/{source}/runs/{REAL_RUN}/history?max_points=2").json()
        assert body["downsampled"] is True and body["total_rows"] == 4
        assert [r["window_id"] for r in body["rows"]] == [0, 3]


def test_unknown__run_and_iteration_are_404_on_both_sources(make_client) -> None:
    client = make_client()
    openapi = client.get("/openapi.json").json()
    for source in ("local", "wandb"):
        r = client.get(f"/api/{source}/runs/nosuchrun/summary")
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
        validate_response(openapi, "GET", "/api/{source}/runs/{run_id}/summary", 404, r.json())
        r = client.get(f"/api/{source}/runs/{REAL_RUN}/iterations/999")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_wandb__not_configured_is_503_and_health_says_local(make_client) -> None:
    client = make_client(wandb=False)
    r = client.get("/api/wandb/runs")
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_configured"
    health = client.get("/api/health").json()
    assert health["default_source"] == "local"
    assert health["sources"]["wandb"] == {
        "available": False,
        "reason": "WANDB_API_KEY, WANDB_ENTITY, WANDB_PROJECT not set",
        "configured": False,
        "reachable": None,
        "detail": "WANDB_API_KEY, WANDB_ENTITY, WANDB_PROJECT not set",
    }
