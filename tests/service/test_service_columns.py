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


def test_store__an_append_extends_the_values_already_built_exactly_as_a_rebuild(
    tmp_path: Path,
) -> None:
    # A live run: the Python values built for a request are extended by an append (not
    # rebuilt); they must equal what a fresh parse gives, nulls and ints included, and the
    # old columns' values must stay as they were.
    path = tmp_path / "windows.jsonl"

    def line(i: int) -> str:
        sps = None if i % 3 == 0 else i * 1.5
        return json.dumps({"window_id": i, "env_steps": i * 10, "sps": sps, "timestamp": str(i)})

    path.write_text("".join(line(i) + "\n" for i in range(4)))
    store = columns.ColumnStore()
    first = store.get(path)
    keys = ["window_id", "env_steps", "sps", "timestamp"]
    before = first.rows(keys)
    assert store.builds == 1
    with path.open("a") as f:
        f.write("".join(line(i) + "\n" for i in range(4, 7)))
    grown = store.get(path)
    assert store.builds == 1 and store.appends == 1 and grown.version != first.version
    assert grown.rows(keys) == columns.ColumnStore().get(path).rows(keys)
    assert grown.rows(keys)[-1] == {"window_id": 6, "env_steps": 60, "sps": None, "timestamp": "6"}
    assert all(type(r["env_steps"]) is int for r in grown.rows(keys))  # (60.0 == 60 in Python)
    assert first.rows(keys) == before and first.n == 4
    # out of order: the columns are re-sorted and the values rebuilt
    with path.open("a") as f:
        f.write(line(5).replace('"window_id": 5', '"window_id": 3') + "\n")
    again = store.get(path)
    assert again.values("window_id") == [0, 1, 2, 3, 3, 4, 5, 6]
    assert again.rows(keys) == columns.ColumnStore().get(path).rows(keys)


def test_history_body__equals_the_payload_it_encodes(tmp_path: Path) -> None:
    from analytics_service import bodies, history
    from analytics_service.bench_history import write_synthetic_run
    from analytics_service.keys import WINDOW_KEYS

    path = write_synthetic_run(tmp_path, "r", 700)
    cols = columns.ColumnStore().get(path / "windows.jsonl")
    for keys, max_points in ((list(WINDOW_KEYS), 300), (["window_id", "sps"], 1000)):
        args = ("local", "r", cols, cols.loaded_at, False, keys, max_points)
        assert history.encoded(*args) == bodies.encode(history.payload(*args))
