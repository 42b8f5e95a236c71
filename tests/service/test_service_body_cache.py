"""The kept history bodies (analytics_service.bodies): the memory cap holds for any mix of
queries, the byte count never drifts, and concurrent callers of one key share one build's
body or its error (also a body too large to keep). Work is counted, never timed."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from collections.abc import Callable

import pytest

from analytics_service import bodies
from analytics_service.keys import WINDOW_KEYS


def _until(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def _key(i: int) -> tuple:
    # a distinct history query each time (keys subset and max_points), with fresh strings
    wanted = tuple(str(k).encode().decode() for k in WINDOW_KEYS[: 2 + i % 30])
    return ("history", "local", "r1", 7, None, False, wanted, 2 + i)


def test_bodies__the_memory_cap_holds_for_many_tiny_bodies() -> None:
    cap = 1 << 20
    cache = bodies.BodyCache(max_bytes=cap)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(20_000):
            cache.get_or_build(_key(i), lambda: bodies.Body(b'{"rows":[]}'))
        gc.collect()  # (what is only awaiting the collector is not held by the cache)
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert cache.bytes <= cap
    assert grown <= 1.5 * cap, f"{grown} bytes held for a {cap}-byte cap ({len(cache)} entries)"


def test_bodies__a_gzip_counted_by_two_callers_is_counted_once() -> None:
    cache = bodies.BodyCache(max_bytes=1 << 20)
    body = cache.get_or_build("k", lambda: bodies.Body(b"x" * 20_000))
    alone = cache.bytes
    body.gzipped()
    cache.resize("k")
    once = cache.bytes
    cache.resize("k")  # a second request that gzipped the same body at the same time
    assert cache.bytes == once > alone
    # evicted entirely by others: nothing left counted
    for i in range(200):
        cache.put(("other", i), bodies.Body(b"y" * 20_000))
    assert cache.get("k") is None
    for i in range(200):
        cache.put(("other", i), bodies.Body(b""))  # replaced by empty ones
    assert cache.bytes == sum(
        bodies._key_bytes(("other", i)) + bodies.ENTRY_OVERHEAD
        for i in range(200)
        if cache.get(("other", i)) is not None
    )


@pytest.mark.parametrize("outcome", ["raises", "too large to keep"])
def test_bodies__concurrent_callers_share_one_build_and_its_error(outcome: str) -> None:
    cache = bodies.BodyCache(max_bytes=4096)
    callers = 4
    builds: list[int] = []

    def build() -> bodies.Body:
        builds.append(1)
        _until(lambda: cache.waiting("k") == callers - 1)  # every other caller waits on it
        if outcome == "raises":
            raise ValueError("broken records")
        return bodies.Body(b"z" * 10_000)  # over a quarter of the cap: not kept

    got: list[object] = []

    def call() -> None:
        try:
            got.append(cache.get_or_build("k", build))
        except ValueError as exc:
            got.append(exc)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a waiter hangs"
    assert len(builds) == 1 and len(got) == callers
    if outcome == "raises":
        assert all(isinstance(g, ValueError) and str(g) == "broken records" for g in got)
    else:
        assert all(g is got[0] for g in got) and cache.get("k") is None
    assert cache.waiting("k") == 0


def test_fast_table__many_distinct_queries_stay_within_its_bytes(tmp_path) -> None:
    """Fresh bodies kept by raw request (the fast path) and by endpoint parameters: a
    client varying an ignored query parameter gets the runs list each time, but the
    tables keeping those bodies stay within their byte caps."""
    from fastapi.testclient import TestClient
    from svc_records import write_run

    from analytics_service.app import create_app
    from analytics_service.settings import Settings

    runs = tmp_path / "runs"
    for i in range(200):
        write_run(runs, f"r{i:03d}", windows=1, updates_per_window=1)
    settings = Settings(
        _env_file=None,
        runs_dir=runs,
        cache_dir=tmp_path / "cache",
        rate_limit_per_s=100_000,
        rate_limit_burst=100_000,
        warm_runs=0,
        local_memo_s=0.001,  # a new read (and body) per request, each kept while fresh
    )
    with TestClient(create_app(settings)) as client:
        svc = client.app.state.services
        first = client.get("/api/local/runs?limit=200", headers={"Accept-Encoding": "identity"})
        assert first.status_code == 200 and len(first.json()["runs"]) == 200
        per_body = len(first.content)
        asked = 200
        for i in range(asked):
            r = client.get(
                f"/api/local/runs?limit=200&v={i}", headers={"Accept-Encoding": "identity"}
            )
            assert r.status_code == 200
        assert per_body * asked > 16 << 20  # (what an unbounded table would hold)
        for table, cap in ((svc.fast, 16 << 20), (svc.bodies, 32 << 20)):  # docs/API.md
            held = {id(b): len(b) for v in table._items.values() for b in v if type(b) is bytes}
            assert sum(held.values()) <= cap, (len(table._items), per_body)
