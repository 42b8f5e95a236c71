"""A short loopback load test: 50 concurrent clients on cached endpoints, zero errors.

Latency is reported, not asserted (timing belongs to benchmarks, not unit tests); the full
run is `python -m tools.loadtest` (figures in docs/API.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from svc_env import REAL_RUN

from tools.loadtest import endpoints, own_service, run_load


def test_load__50_concurrent_clients_get_no_errors(real_runs: Path) -> None:
    with own_service(real_runs) as base:
        result = asyncio.run(
            run_load(base, endpoints(REAL_RUN), clients=50, requests=1000, max_seconds=60)
        )
    print(f"\nload test (short): {result}")
    assert result["requests"] == 1000
    assert result["errors"] == 0, result["error_kinds"]
