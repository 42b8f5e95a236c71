"""Records changed other than by appending lines, under a live service (real uvicorn): a
rewrite in place (same inode), one that keeps the size and restores the mtime (`cp -p`,
`rsync -t`, `os.utime`), one that reorders lines. The kept columns, update index and
history bodies must follow the file; only a pure append may be read incrementally."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
from svc_records import write_run
from svc_server import running_service

RUN = "rw"


def _settle(path: Path) -> os.stat_result:
    """Move the file's mtime 10 s into the past (so the service trusts its stamp)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 10_000_000_000))
    return os.stat(path)


def _rewrite_in_place(path: Path, text: str, keep_mtime_of: os.stat_result | None) -> None:
    # open("r+"): the same inode, as an editor saving in place or a tool fixing records
    with path.open("r+") as f:
        f.truncate(0)
        f.write(text)
    if keep_mtime_of is not None:
        os.utime(path, ns=(keep_mtime_of.st_atime_ns, keep_mtime_of.st_mtime_ns))


def _sps(base: str, **params) -> list[float]:
    r = httpx.get(
        f"{base}/api/local/runs/{RUN}/history",
        params={"keys": "sps", **params},
        headers={"Accept-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    return [row["sps"] for row in r.json()["rows"]]


def test_history_and_updates__follow_rewrites_that_are_no_append(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = write_run(runs, RUN, windows=5, updates_per_window=3)
    windows, updates = path / "windows.jsonl", path / "updates.jsonl"
    lines = windows.read_text().splitlines()
    env = {"ANALYTICS_WARM_RUNS": "0", "ANALYTICS_LOCAL_MEMO_S": "0"}
    with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", env) as base:
        st = _settle(windows)
        assert _sps(base) == [1234.5, 1235.5, 1236.5, 1237.5, 1238.5]

        # 1. same size, same mtime, new values (only the ctime tells)
        same = [ln.replace('"sps": 123', '"sps": 987') for ln in lines]
        _rewrite_in_place(windows, "\n".join(same) + "\n", keep_mtime_of=st)
        assert os.stat(windows).st_size == st.st_size
        assert os.stat(windows).st_mtime_ns == st.st_mtime_ns
        assert _sps(base) == [9874.5, 9875.5, 9876.5, 9877.5, 9878.5]
        assert _sps(base, max_points=2) == [9874.5, 9878.5]

        # 2. rewritten in place and longer, its old length still ending a line: no append
        st = _settle(windows)
        assert _sps(base) == [9874.5, 9875.5, 9876.5, 9877.5, 9878.5]
        longer = [ln.replace('"sps": 987', '"sps": 555') for ln in same]
        extra = {**json.loads(same[-1]), "window_id": 5, "sps": 5559.5}
        _rewrite_in_place(windows, "\n".join([*longer, json.dumps(extra)]) + "\n", None)
        assert _sps(base) == [5554.5, 5555.5, 5556.5, 5557.5, 5558.5, 5559.5]

        # 3. a real append after all that is still read (and only it)
        with windows.open("a") as f:
            f.write(json.dumps({**extra, "window_id": 6, "sps": 1.0}) + "\n")
        assert _sps(base)[-2:] == [5559.5, 1.0]

        # 4. updates.jsonl: its lines reordered, same size and mtime (the byte spans of
        # each window move): a window's updates are still its own
        st = _settle(updates)
        first = httpx.get(f"{base}/api/local/runs/{RUN}/iterations/1").json()["updates"]
        assert [u["update"] for u in first] == [3, 4, 5]
        upd = updates.read_text().splitlines()
        _rewrite_in_place(updates, "\n".join(reversed(upd)) + "\n", keep_mtime_of=st)
        for w in range(5):
            r = httpx.get(f"{base}/api/local/runs/{RUN}/iterations/{w}")
            assert r.status_code == 200, r.text
            assert [u["update"] for u in r.json()["updates"]] == [3 * w, 3 * w + 1, 3 * w + 2]
