"""Kept columns shared between threads: a request converting a column of a run's columns
while an append copies them (a live run polled by several charts) never fails."""

from __future__ import annotations

import sys
import threading

from analytics_service import columns
from analytics_service.keys import STR_KEYS, WINDOW_KEYS


def test_columns__copied_for_an_append_while_a_request_converts_a_column() -> None:
    rows = [
        {**{k: None if k in STR_KEYS else float(i) for k in WINDOW_KEYS}, "window_id": i}
        for i in range(200)
    ]
    keys = [k for k in WINDOW_KEYS if k not in STR_KEYS]
    errors: list[BaseException] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows
    try:
        for _ in range(200):
            cols = columns.Columns.from_rows(rows)
            cols.values("window_id")  # a first request converted one column

            def request(cols: columns.Columns = cols) -> None:
                for k in keys:
                    cols.values(k)

            def append(cols: columns.Columns = cols) -> None:
                try:
                    for _ in range(10):
                        copy = columns._copy(cols)
                        copy.append([{**rows[-1], "window_id": 200}])
                        assert copy.values("sps")[-1] == 199.0 and copy.n == 201
                except BaseException as exc:  # (reported below)
                    errors.append(exc)

            threads = [threading.Thread(target=request), threading.Thread(target=append)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert not errors, repr(errors[0])
    finally:
        sys.setswitchinterval(interval)
