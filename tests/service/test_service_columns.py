"""The columnar form of window rows and its min-max downsampling (pure, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_service import columns, views


def _rows(values: list[float | None]) -> list[dict]:
    return [
        views.window_row({"window_id": i, "env_steps": 100 * i, "loss/value": v})
        for i, v in enumerate(values)
    ]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=1, max_size=600
    ),
    max_points=st.integers(2, 300),
)
def test_minmax__bounded_ordered_real_rows_keeping_every_buckets_extremes(
    values: list[float | None], max_points: int
) -> None:
    cols = columns.Columns.from_rows(_rows(values))
    idx, buckets = columns.minmax_downsample(cols, ["window_id", "loss/value"], max_points)
    ids = idx.tolist()
    n = len(values)
    assert ids == sorted(set(ids)) and ids[0] == 0 and ids[-1] == n - 1
    if buckets is None:
        assert ids == list(range(n)) and n <= max_points
        return
    assert len(ids) <= max_points
    if buckets == 0:  # no room for one bucket per key, or only x axes: evenly spaced
        assert max_points < 4 or all(v is not None for v in values)
        return
    # every bucket's min and max of the series is among the kept rows
    width = -(-n // buckets)
    kept = set(ids)
    for start in range(0, n, width):
        chunk = [v for v in values[start : start + width] if v is not None]
        if chunk:
            lo, hi = min(chunk), max(chunk)
            assert any(values[i] == lo for i in kept if start <= i < start + width)
            assert any(values[i] == hi for i in kept if start <= i < start + width)


def test_minmax__a_single_spike_survives_heavy_downsampling() -> None:
    values = [1.0] * 10_000
    values[6_789] = 1e9
    cols = columns.Columns.from_rows(_rows(values))
    idx, buckets = columns.minmax_downsample(cols, ["loss/value"], 50)
    assert 6_789 in idx.tolist() and len(idx) <= 50 and buckets is not None
    # the rows are the real windows, values unchanged
    rows = cols.rows(["window_id", "loss/value"], idx)
    assert {"window_id": 6_789, "loss/value": 1e9} in rows


def test_store__appends_incrementally_and_waits_for_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    line = lambda i: json.dumps({"window_id": i, "env_steps": i, "sps": float(i)})
    path.write_text("".join(line(i) + "\n" for i in range(3)))
    store = columns.ColumnStore()
    first = store.get(path)
    assert first.n == 3 and store.get(path) is first  # unchanged file: the same columns
    with path.open("a") as f:
        f.write(line(3) + "\n" + line(4)[:10])  # one more window and a torn (in-flight) line
    grown = store.get(path)
    assert grown.n == 4 and first.n == 3  # readers of the old columns are unaffected
    assert grown.values("sps") == [0.0, 1.0, 2.0, 3.0]
    with path.open("a") as f:
        f.write(line(4)[10:] + "\n")
    assert store.get(path).values("window_id") == [0, 1, 2, 3, 4]
    path.write_text(line(9) + "\n")  # rewritten (shorter): rebuilt from scratch
    assert store.get(path).values("window_id") == [9]


def test_columns__nulls_ints_and_order() -> None:
    rows = [views.window_row({"window_id": w, "sps": s}) for w, s in ((2, None), (0, 1.5), (1, 2))]
    cols = columns.Columns.from_rows(rows)
    assert cols.values("window_id") == [0, 1, 2]
    assert cols.values("sps") == [1.5, 2.0, None]
    assert cols.values("compile_s", np.array([0])) == [None]


def test_update_index__reads_one_windows_lines_and_follows_appends(tmp_path: Path) -> None:
    path = tmp_path / "updates.jsonl"

    def line(w: int, u: int) -> str:
        return json.dumps({"window_id": w, "update": u, "loss/policy": u / 10}) + "\n"

    path.write_text(line(0, 0) + line(0, 1) + line(1, 2))
    index = columns.UpdateIndexStore()
    assert [r["update"] for r in index.rows(path, 0)] == [0, 1]
    assert index.rows(path, 7) == [] and index.rows(tmp_path / "none.jsonl", 0) == []
    with path.open("a") as f:
        f.write(line(1, 3) + line(2, 4)[:12])  # window 2's line is still being written
    assert [r["update"] for r in index.rows(path, 1)] == [2, 3]
    assert index.rows(path, 2) == []
    with path.open("a") as f:
        f.write(line(2, 4)[12:])
    assert index.rows(path, 2) == [{"window_id": 2, "update": 4, "loss/policy": 0.4}]
    path.write_text(line(5, 9))  # rewritten: indexed afresh
    assert [r["update"] for r in index.rows(path, 5)] == [9] and index.rows(path, 0) == []
