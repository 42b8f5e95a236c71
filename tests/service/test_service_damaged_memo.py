"""A damaged record file is remembered as damaged until it changes: a page polling a
damaged long run (history, summary, runs list) costs no parse per request, and the run
reads again as soon as the file is repaired. Work is counted (files opened), not timed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient
from svc_records import write_run

from analytics_service import records
from analytics_service.app import create_app
from analytics_service.settings import Settings


def _settled(path: Path) -> None:
    # the service trusts a stamp only once its times are older than a clock tick (2 s)
    deadline = time.monotonic() + 30
    while not records.is_settled_stamp(records.file_stamp(path)):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_damaged_windows__not_parsed_again_until_the_file_changes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, "dmg", windows=40)
    windows = path / "windows.jsonl"
    good = windows.read_text()
    lines = good.splitlines()
    lines[20] = '{"window_id": 20, "sps": '  # a corrupt line that is not the last
    windows.write_text("\n".join(lines) + "\n")
    st = os.stat(windows)
    os.utime(windows, ns=(st.st_atime_ns, st.st_mtime_ns - 10_000_000_000))
    _settled(windows)
    _settled(path / "run.json")
    settings = Settings(
        _env_file=None,
        runs_dir=runs,
        cache_dir=tmp_path / "cache",
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
        local_memo_s=0,
        warm_runs=0,
    )
    urls = ("/api/local/runs/dmg/history", "/api/local/runs/dmg/summary")
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            for url in urls:
                assert client.get(url).status_code == 502
            assert client.get("/api/local/runs").json()["runs"] == []
        before = records.reads
        for _ in range(3):
            for url in urls:
                r = client.get(url)
                assert r.status_code == 502 and "unreadable" in r.json()["error"]["message"]
            assert client.get("/api/local/runs").json()["runs"] == []
        assert records.reads == before  # no file opened: the damage is remembered
        # repaired (rewritten in place): read again at once
        windows.write_text(good)
        for url in urls:
            assert client.get(url).status_code == 200, url
        assert client.get("/api/local/runs/dmg/history").json()["total_rows"] == 40
        assert [r["run_id"] for r in client.get("/api/local/runs").json()["runs"]] == ["dmg"]
