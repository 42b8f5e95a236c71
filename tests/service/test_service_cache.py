"""Cache tests: requests counted at the stub W&B server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from svc_env import REAL_RUN

SUMMARY = f"/api/wandb/runs/{REAL_RUN}/summary"
HISTORY = f"/api/wandb/runs/{REAL_RUN}/history"


def test_cache__second_call_within_ttl_makes_no_wandb_request(make_client, stub) -> None:
    client = make_client()
    for url in ("/api/wandb/runs", SUMMARY, HISTORY, f"/api/wandb/runs/{REAL_RUN}/iterations/1"):
        first = client.get(url)
        assert first.status_code == 200
        n = stub.data_requests()
        assert n > 0
        second = client.get(url)
        assert second.status_code == 200
        assert stub.data_requests() == n, url
        assert second.json() == first.json()
        stub.reset_counts()


def test_cache__history_and_iterations_share_one_fetch(make_client, stub) -> None:
    client = make_client()
    client.get(HISTORY)
    n = stub.data_requests()
    assert client.get(f"/api/wandb/runs/{REAL_RUN}/iterations?limit=2").status_code == 200
    assert stub.data_requests() == n


def test_cache__expiry_refetches(make_client, stub) -> None:
    client = make_client(ttl_runs_s=0.3)
    first = client.get("/api/wandb/runs").json()
    n = stub.counts["Runs"]
    time.sleep(0.5)
    second = client.get("/api/wandb/runs").json()
    assert stub.counts["Runs"] == n + 1
    assert second["fetched_at"] > first["fetched_at"]
    assert second["stale"] is False


def test_cache__stale_while_error(make_client, stub) -> None:
    client = make_client(ttl_finished_s=0.3, ttl_running_s=0.3)
    good = client.get(SUMMARY)
    assert good.status_code == 200
    stub.set_fault("server_error")
    time.sleep(0.5)
    stale = client.get(SUMMARY)
    assert stale.status_code == 200
    body = stale.json()
    assert body["stale"] is True
    assert body["fetched_at"] == good.json()["fetched_at"]
    assert {k: v for k, v in body.items() if k not in ("stale",)} == {
        k: v for k, v in good.json().items() if k not in ("stale",)
    }
    # nothing cached for this key: the error itself
    assert client.get(HISTORY).status_code == 502
    stub.set_fault(None)
    fresh = client.get(SUMMARY).json()
    assert fresh["stale"] is False and fresh["fetched_at"] > good.json()["fetched_at"]


def test_cache__error_backoff_serves_stale_without_asking_wandb(make_client, stub) -> None:
    client = make_client(ttl_runs_s=0.2, error_backoff_s=30)
    assert client.get("/api/wandb/runs").status_code == 200
    stub.set_fault("server_error")
    time.sleep(0.3)
    assert client.get("/api/wandb/runs").json()["stale"] is True
    n = stub.counts["Runs"]
    for _ in range(5):
        assert client.get("/api/wandb/runs").json()["stale"] is True
    assert stub.counts["Runs"] == n  # backing off: W&B is not hammered


def test_cache__single_flight_under_concurrent_requests(make_client, stub) -> None:
    client = make_client()
    app = client.app
    stub.set_fault("slow", delay_s=0.8, ops=["HistoryPage"])

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
            return await asyncio.gather(*(c.get(HISTORY) for _ in range(12)))

    responses = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["fetched_at"] for r in responses}) == 1
    assert stub.counts["HistoryPage"] == 1
    assert stub.counts["Run"] == 1


def test_cache__survives_a_restart(make_client, stub, tmp_path: Path) -> None:
    cache_dir = tmp_path / "persistent"
    first = make_client(cache_dir=cache_dir)
    body = first.get(SUMMARY).json()
    first.__exit__(None, None, None)  # service stops
    stub.reset_counts()
    stub.set_fault("server_error")  # W&B down after the restart
    second = make_client(cache_dir=cache_dir)
    again = second.get(SUMMARY)
    assert again.status_code == 200
    assert again.json() == body  # same fetched_at, not stale: still within TTL
    assert stub.data_requests() == 0


def test_cache__size_is_bounded(make_client, stub, tmp_path: Path) -> None:
    client = make_client(cache_size_mb=1)
    cache = client.app.state.services.cache
    assert cache.disk.size_limit == 1024 * 1024


def test_cache__a_fetch_past_the_deadline_still_fills_the_cache(make_client, stub) -> None:
    client = make_client(wandb_timeout_s=5.0, fetch_timeout_s=1.0)
    stub.set_fault("slow", delay_s=1.6, ops=["HistoryPage"])
    t0 = time.monotonic()
    first = client.get(HISTORY)
    assert time.monotonic() - t0 < 2.0
    assert first.status_code == 504 and first.json()["error"]["code"] == "upstream_timeout"
    # while the late fetch runs, no second one starts
    assert client.get(HISTORY).status_code == 504
    time.sleep(1.5)
    done = client.get(HISTORY)
    assert done.status_code == 200 and done.json()["stale"] is False
    assert stub.counts["HistoryPage"] == 1
