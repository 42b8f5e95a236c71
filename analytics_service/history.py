"""The `/history` answer: min-max downsampled rows of a run's columns, encoded once per
records version (`bodies.store`) and shared by the route and the background warm-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson

from analytics_service import bodies, columns, degraded
from analytics_service.errors import UpstreamError

DEFAULT_MAX_POINTS = 1000


def encode_or_502(payload: dict) -> bytes:
    """`payload` as JSON bytes; a value JSON cannot carry is the source's garbage: 502."""
    try:
        return bodies.encode(payload)
    except orjson.JSONEncodeError:  # a value the views let through (an int past 64 bits)
        degraded.report("shape:json", "a response held a value JSON cannot carry; answering 502")
        raise UpstreamError("the source answered data the service cannot represent") from None


def cached_body(key: tuple, build: Callable[[], bytes], gz: bool) -> bodies.Body:
    """The encoded body under `key` (which must hold the records' version), built with
    `build()` (JSON bytes, see `encoded`) when not kept; gzipped too when `gz`
    (blocking: call it from a thread)."""

    def make() -> bodies.Body:
        body = bodies.Body(build())
        if gz and len(body.raw) >= bodies.GZIP_MIN:
            body.gzipped()
        return body

    body = bodies.store.get_or_build(key, make)
    if gz and body.gz is None and len(body.raw) >= bodies.GZIP_MIN:
        body.gzipped()
        bodies.store.resize(key)
    return body


def payload(
    source: str,
    run_id: str,
    cols: columns.Columns,
    fetched_at: datetime,
    stale: bool,
    wanted: list[str],
    max_points: int,
) -> dict:
    """The `/history` answer for `wanted` keys of `cols` (see docs/API.md)."""
    idx, buckets = columns.minmax_downsample(cols, wanted, max_points)
    return {
        "source": source,
        "fetched_at": fetched_at,
        "stale": stale,
        "run_id": run_id,
        "total_rows": cols.n,
        "downsampled": buckets is not None,
        "buckets": buckets,
        "keys": wanted,
        "rows": cols.rows(wanted, idx if buckets is not None else None),
    }


def encoded(
    source: str,
    run_id: str,
    cols: columns.Columns,
    fetched_at: datetime,
    stale: bool,
    wanted: list[str],
    max_points: int,
) -> bytes:
    """`payload(...)` as JSON bytes (a value JSON cannot carry: UpstreamError, 502). Most
    of the cost is formatting the floats (about 33,000 for 1,000 rows of every key)."""
    return encode_or_502(payload(source, run_id, cols, fetched_at, stale, wanted, max_points))


def history_key(
    source: str,
    run_id: str,
    cols: columns.Columns,
    fetched_at: datetime,
    stale: bool,
    wanted: list[str],
    max_points: int,
) -> tuple:
    """The body cache key of a history answer. The columns' version changes with every
    refresh of the records, so a kept body is never stale."""
    return ("history", source, run_id, cols.version, fetched_at, stale, tuple(wanted), max_points)
