"""The stub W&B server against the real wandb client: the calls the service does not make
(keyed scans, sampled history) answer correctly too, and faults switch over HTTP."""

from __future__ import annotations

import json

import httpx
from svc_env import API_KEY, ENTITY, PROJECT, REAL_RUN


def _api(stub):
    import wandb

    return wandb.Api(
        overrides={"base_url": stub.url, "entity": ENTITY}, api_key=API_KEY, timeout=10
    )


def test_stub__keyed_scan_and_sampled_history_with_the_real_client(stub, real_runs) -> None:
    run = _api(stub).run(f"{ENTITY}/{PROJECT}/{REAL_RUN}")
    windows = [
        json.loads(x) for x in (real_runs / REAL_RUN / "windows.jsonl").read_text().splitlines()
    ]
    rows = list(run.scan_history(keys=["window_id", "sps"]))
    # update rows carry window_id but not sps: only window rows hold both keys
    assert [r["window_id"] for r in rows] == [w["window_id"] for w in windows]
    assert [r["sps"] for r in rows] == [w["sps"] for w in windows]
    assert stub.counts["SampledHistoryPage"] >= 1
    sampled = run.history(keys=["sps"], pandas=False)
    assert [r["sps"] for r in sampled] == [w["sps"] for w in windows]
    assert stub.counts["RunSampledHistory"] >= 1
    assert stub.unknown_ops == []


def test_stub__faults_switch_over_http(stub) -> None:
    r = httpx.post(f"{stub.url}/_stub/fault", json={"mode": "server_error", "ops": ["Runs"]})
    assert r.json() == {"fault": "server_error"}
    q = {"query": "query Runs { x }", "variables": {}}
    assert httpx.post(f"{stub.url}/graphql", json=q).status_code == 500
    httpx.post(f"{stub.url}/_stub/fault", json={"mode": None})
    counts = httpx.get(f"{stub.url}/_stub/counts").json()
    assert counts["Runs"] >= 1
