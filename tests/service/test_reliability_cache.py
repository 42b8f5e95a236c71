"""Issue 13 rows 1 and 9 (service side): the service's own state - its W&B response cache -
damaged, full, read-only or deleted while running degrades to "no disk cache", never to
"no service". Real services on loopback where start-up is what fails; the cache object
itself where the fault is injected mid-run."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from svc_env import API_KEY, ENTITY, PROJECT, REAL_RUN
from svc_server import running_service

from analytics_service.cache import ResponseCache

SUMMARY = f"/api/wandb/runs/{REAL_RUN}/summary"


def _wandb_env(stub) -> dict[str, str]:
    return {
        "WANDB_API_KEY": API_KEY,
        "WANDB_ENTITY": ENTITY,
        "WANDB_PROJECT": PROJECT,
        "WANDB_BASE_URL": stub.url,
        "ANALYTICS_ERROR_BACKOFF_S": "0",
        # the first W&B call starts the wandb client: slow on a loaded machine
        "ANALYTICS_FETCH_TIMEOUT_S": "60",
        "ANALYTICS_WANDB_TIMEOUT_S": "30",
    }


def _serves_everything(base: str, stub) -> dict:
    """Every source answers; a repeated W&B request is served from a cache (disk or memory).
    Returns the health payload."""
    assert httpx.get(f"{base}/api/local/runs", timeout=30).status_code == 200
    assert httpx.get(f"{base}/api/local/runs/{REAL_RUN}/summary", timeout=30).status_code == 200
    first = httpx.get(f"{base}{SUMMARY}", timeout=30)
    assert first.status_code == 200, first.text
    n = stub.data_requests()
    again = httpx.get(f"{base}{SUMMARY}", timeout=30)
    assert again.status_code == 200 and again.json()["fetched_at"] == first.json()["fetched_at"]
    assert stub.data_requests() == n  # cached
    health = httpx.get(f"{base}/api/health", timeout=30)
    assert health.status_code == 200
    return health.json()


def _fill_real_cache(directory: Path) -> None:
    cache = ResponseCache(directory, size_mb=8, error_backoff_s=0, ttl_not_found_s=1)
    pool = ThreadPoolExecutor(1)

    async def fill() -> None:
        for i in range(64):
            await cache.get(f"k{i}", lambda: "x" * 3000, lambda _: 60, executor=pool, timeout_s=5)

    asyncio.run(fill())
    cache.close()
    pool.shutdown()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_cache_damaged_at_startup_is_moved_aside_and_rebuilt(
    real_runs: Path, stub, tmp_path: Path, damage: str
) -> None:
    cache_dir = tmp_path / "cache"
    if damage == "garbage":
        cache_dir.mkdir()
        (cache_dir / "cache.db").write_bytes(b"garbage\n" * 64)
    else:
        _fill_real_cache(cache_dir)
        db = cache_dir / "cache.db"
        os.truncate(db, db.stat().st_size // 2)
    log = tmp_path / "svc.log"
    stub.reset_counts()
    with running_service(real_runs, cache_dir, log, _wandb_env(stub)) as base:
        health = _serves_everything(base, stub)
        assert health["cache"] == {"on_disk": True, "detail": ""}
    text = log.read_text()
    assert "is damaged" in text and "moved aside" in text, text
    assert text.count("is damaged") == 1  # one line for the condition
    assert API_KEY not in text
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("cache.damaged-")]
    assert len(aside) == 1 and (aside[0] / "cache.db").exists()
    assert (cache_dir / "cache.db").stat().st_size > 0  # the new cache


def _file_size_limit(n_bytes: int):
    # A full disk, as the service sees it: writes past n_bytes fail (EFBIG; Python ignores
    # SIGXFSZ). The limit is set in the child only.
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))

    return apply


@pytest.mark.parametrize(
    ("limit", "on_disk"),
    [(16 * 1024, False), (48 * 1024, None)],
    ids=["full_at_startup", "fills_up_while_serving"],
)
def test_cache_on_a_full_disk_runs_from_memory(
    real_runs: Path, stub, tmp_path: Path, limit: int, on_disk: bool | None
) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    log = tmp_path / "svc.log"
    stub.reset_counts()
    env = {**_wandb_env(stub), "WANDB_SILENT": "true"}
    with running_service(
        real_runs, cache_dir, log, env, log_level="warning", preexec_fn=_file_size_limit(limit)
    ) as base:
        health = _serves_everything(base, stub)
        if on_disk is False:
            assert health["cache"]["on_disk"] is False
            assert "caching in memory only" in health["cache"]["detail"]
        # Fill it: every run view of every endpoint, twice (the second from a cache).
        urls = [f"/api/wandb/runs/{REAL_RUN}/{p}" for p in ("history", "iterations")]
        urls += [f"/api/wandb/runs/{REAL_RUN}/iterations/{w}" for w in range(4)]
        for url in urls:
            assert httpx.get(f"{base}{url}", timeout=30).status_code == 200
            n = stub.data_requests()
            assert httpx.get(f"{base}{url}", timeout=30).status_code == 200
            assert stub.data_requests() == n, url
        health = httpx.get(f"{base}/api/health", timeout=30).json()
        assert health["cache"]["on_disk"] is False, health
    text = log.read_text()
    assert "caching in memory only" in text, text
    assert "Traceback" not in text
    assert API_KEY not in text


def test_cache_dir_deleted_while_running_is_rebuilt(real_runs: Path, stub, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    log = tmp_path / "svc.log"
    with running_service(real_runs, cache_dir, log, _wandb_env(stub)) as base:
        _serves_everything(base, stub)
        shutil.rmtree(cache_dir)
        deadline = time.monotonic() + 60
        limit = 1
        # New keys go to the disk; within a few seconds the missing file is noticed.
        while "deleted or replaced while running" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            r = httpx.get(f"{base}/api/wandb/runs?limit={limit}", timeout=30)
            assert r.status_code == 200
            limit = limit % 50 + 1
            time.sleep(0.2)
        r = httpx.get(f"{base}/api/wandb/runs/{REAL_RUN}/history", timeout=30)
        assert r.status_code == 200
        assert (cache_dir / "cache.db").exists()
        assert httpx.get(f"{base}/api/health", timeout=30).json()["cache"]["on_disk"] is True


def test_cache_damaged_while_running_is_moved_aside(tmp_path: Path, caplog) -> None:
    cache_dir = tmp_path / "cache"
    _fill_real_cache(cache_dir)
    cache = ResponseCache(cache_dir, size_mb=8, error_backoff_s=0, ttl_not_found_s=1)
    db = cache_dir / "cache.db"
    with db.open("r+b") as f:  # overwritten in place, as by a failing disk
        f.write(b"\0garbage" * (db.stat().st_size // 8))
    pool = ThreadPoolExecutor(1)
    caplog.set_level("WARNING", logger="analytics_service.cache")

    async def use() -> list:
        out = []
        for i in range(4):  # keys the damaged file held: their reads fail
            got = await cache.get(f"k{i}", lambda: "v", lambda _: 60, executor=pool, timeout_s=5)
            out.append(got.value)
        return out

    assert asyncio.run(use()) == ["v"] * 4  # fetched again, not an error
    assert cache.disk is not None and cache.degraded == ""
    assert cache.disk.get("k3") is not None  # written to the rebuilt cache
    assert sum("is damaged" in r.getMessage() for r in caplog.records) == 1
    assert {p.name.split("-")[0] for p in tmp_path.iterdir()} == {"cache", "cache.damaged"}
    cache.close()
    pool.shutdown()


def _read_only_dir(tmp_path: Path):
    """A directory writes to which fail: a read-only tmpfs as root, else a chmod 555 dir."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        return path, lambda: path.chmod(0o755)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("as root without permission to mount: no read-only directory to test with")
    return path, lambda: subprocess.run(["umount", str(path)], check=False)


def test_cache_read_only_dir_serves_from_memory(make_client, stub, tmp_path: Path) -> None:
    path, undo = _read_only_dir(tmp_path)
    try:
        client = make_client(cache_dir=path / "cache")
        health = client.get("/api/health").json()
        assert health["cache"]["on_disk"] is False
        assert "caching in memory only" in health["cache"]["detail"]
        first = client.get(SUMMARY)
        assert first.status_code == 200
        n = stub.data_requests()
        assert client.get(SUMMARY).json() == first.json()
        assert stub.data_requests() == n  # the memory layer still caches
        assert client.get("/api/local/runs").status_code == 200
    finally:
        undo()
