"""The W&B key never appears in a response body, a header or a log line."""

from __future__ import annotations

from pathlib import Path

import httpx
from svc_env import API_KEY, ENTITY, PROJECT, REAL_RUN
from svc_server import running_service


def test_secrets__key_never_in_responses_or_logs(real_runs: Path, stub, tmp_path: Path) -> None:
    log_path = tmp_path / "service.log"
    env = {
        "WANDB_API_KEY": API_KEY,
        "WANDB_ENTITY": ENTITY,
        "WANDB_PROJECT": PROJECT,
        "WANDB_BASE_URL": stub.url,
        "ANALYTICS_ERROR_BACKOFF_S": "0",
        "ANALYTICS_WANDB_TIMEOUT_S": "1.5",
        "ANALYTICS_FETCH_TIMEOUT_S": "3",
        "ANALYTICS_TTL_RUNS_S": "0",
        "ANALYTICS_TTL_FINISHED_S": "0",
    }
    urls = [
        "/api/health",
        "/api/wandb/runs",
        f"/api/wandb/runs/{REAL_RUN}/summary",
        f"/api/wandb/runs/{REAL_RUN}/history",
        f"/api/wandb/runs/{REAL_RUN}/iterations/1",
        "/api/wandb/runs/nosuchrun/summary",
        "/api/wandb/runs/bad..id/summary",
        "/openapi.json",
        "/docs",
    ]
    seen = []
    with running_service(real_runs, tmp_path / "cache", log_path, env, log_level="debug") as base:
        for i, fault in enumerate(
            (None, "auth", "server_error", "rate_limit", "malformed", "slow")
        ):
            stub.set_fault(fault, delay_s=2.0, retry_after_s=1)
            # a cache key not seen before, so the fault reaches the client (not stale data)
            fresh = f"/api/wandb/runs?limit={i + 1}"
            # a slow W&B costs the whole bound per request: two requests show enough
            for url in [*urls, fresh] if fault != "slow" else [urls[2], fresh]:
                r = httpx.get(base + url, timeout=10, headers={"Origin": "http://localhost:3000"})
                seen.append(r.status_code)
                assert API_KEY not in r.text, (fault, url)
                assert all(API_KEY not in f"{k}: {v}" for k, v in r.headers.items())
        stub.set_fault(None)
    log = log_path.read_text(errors="replace")
    assert "GET /api/wandb/runs" in log  # the log really was captured
    assert API_KEY not in log
    assert 200 in seen and 502 in seen and 429 in seen and 504 in seen
