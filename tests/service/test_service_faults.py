"""Fault tests: each W&B fault gives the documented status and payload within the bound,
and the service keeps serving once W&B is back."""

from __future__ import annotations

import time

import pytest
from svc_contract import validate_response
from svc_env import API_KEY, REAL_RUN

BOUND_S = 6.0  # fetch_timeout_s (4) plus slack: "answers within a few seconds"

CASES = [
    # fault, status, code, extra stub settings
    ("rate_limit", 429, "rate_limited", {"retry_after_s": 2}),
    ("server_error", 502, "upstream_error", {}),
    ("malformed", 502, "upstream_error", {}),
    ("auth", 502, "upstream_error", {}),
    ("slow", 504, "upstream_timeout", {"delay_s": 3.5}),
]
URLS = [
    ("/api/{source}/runs", "/api/wandb/runs"),
    ("/api/{source}/runs/{run_id}/summary", f"/api/wandb/runs/{REAL_RUN}/summary"),
    ("/api/{source}/runs/{run_id}/history", f"/api/wandb/runs/{REAL_RUN}/history"),
]


@pytest.mark.parametrize(("fault", "status", "code", "extra"), CASES)
def test_faults__documented_status_within_the_bound(
    make_client, stub, fault, status, code, extra
) -> None:
    client = make_client()
    openapi = client.get("/openapi.json").json()
    stub.set_fault(fault, **extra)
    for template, url in URLS:
        t0 = time.monotonic()
        r = client.get(url)
        elapsed = time.monotonic() - t0
        assert elapsed < BOUND_S, (fault, url, elapsed)
        assert r.status_code == status, (fault, url, r.text)
        body = r.json()
        assert body["error"]["code"] == code
        validate_response(openapi, "GET", template, status, body)
        assert API_KEY not in r.text and API_KEY not in str(r.headers)
        if status == 429:
            assert r.headers["Retry-After"] == "2"
            assert body["error"]["retry_after_s"] == 2
    if status == 429:
        # W&B's Retry-After is honoured: no request to W&B until it has passed
        n = stub.data_requests()
        assert client.get(URLS[0][1]).status_code == 429
        assert stub.data_requests() == n
        time.sleep(2.1)
    stub.set_fault(None)
    for _, url in URLS:
        ok = client.get(url)
        assert ok.status_code == 200, (fault, url, ok.text)
        assert ok.json()["stale"] is False
    # local data never depended on W&B
    assert client.get("/api/local/runs").status_code == 200


def test_faults__wandb_unreachable_is_502_quickly(make_client) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_client(wandb_base_url=f"http://127.0.0.1:{port}")
    t0 = time.monotonic()
    r = client.get("/api/wandb/runs")
    assert time.monotonic() - t0 < BOUND_S
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_error"
    health = client.get("/api/health").json()
    assert health["sources"]["wandb"]["reachable"] is False
    assert health["default_source"] == "local"


def test_faults__unknown_project_is_a_clear_502(make_client) -> None:
    client = make_client(wandb_project="no-such-project")
    r = client.get("/api/wandb/runs")
    assert r.status_code == 502
    assert "WANDB_PROJECT" in r.json()["error"]["message"]
