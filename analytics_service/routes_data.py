"""The data endpoints: `/api/{source}/runs...` for W&B and the local run records."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import iterate_in_threadpool

from analytics_service import bodies, columns, degraded, history, records, replayable, views
from analytics_service.cache import Cached
from analytics_service.errors import InvalidRequest, NotConfigured, NotFound, UpstreamError
from analytics_service.fastpath import fast_store
from analytics_service.keys import RUN_ID_PATTERN, WINDOW_KEYS
from analytics_service.models import (
    ErrorResponse,
    HistoryResponse,
    IterationResponse,
    IterationsResponse,
    ReplayableResponse,
    RunsResponse,
    SourceName,
    SummaryResponse,
)
from analytics_service.state import Services

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in (
        (404, "unknown run or iteration"),
        (422, "bad parameters"),
        (429, "this client or W&B is over its rate (Retry-After header)"),
        (502, "W&B answered with an error or garbage"),
        (503, "W&B not configured"),
        (504, "W&B did not answer in time"),
    )
}

SourceParam = Annotated[SourceName, Path(description="`wandb` or `local`")]
RunIdParam = Annotated[
    str,
    Path(pattern=RUN_ID_PATTERN, max_length=64, description="run id (also the W&B run id)"),
]


def _services(request: Request) -> Services:
    return request.app.state.services


async def _load(svc: Services, source: str, kind: str, key_parts: tuple, call, ttl_of) -> Cached:
    """Run `call(source_object)` through the cache (W&B) or directly (local)."""
    if source == "local":
        # Reading records is cheap but not free; a short memo keeps hot endpoints fast.
        memo_key = ("local", kind, *key_parts)
        now = time.monotonic()
        hit = svc.local_memo.get(memo_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await asyncio.to_thread(call, svc.local)
        memo_s = svc.settings.local_memo_s
        got = Cached(value, datetime.now(UTC), False, time.time() + memo_s if memo_s else None)
        if memo_s > 0:
            svc.local_memo.put(memo_key, (now + svc.settings.local_memo_s, got))
        return got
    if svc.wandb is None:
        raise NotConfigured(
            f"W&B is not configured on this service ({svc.settings.wandb_missing}); use /api/local"
        )
    wandb = svc.wandb
    key = ":".join(
        (
            "wandb",
            svc.settings.wandb_entity or "",
            svc.settings.wandb_project or "",
            kind,
            *map(str, key_parts),
        )
    )
    return await svc.cache.get(
        key,
        lambda: call(wandb),
        ttl_of,
        executor=svc.executor,
        timeout_s=svc.settings.fetch_timeout_s,
    )


def _ttl_by_state(svc: Services):
    s = svc.settings

    def ttl(value: Any) -> float:
        state = value.get("state") if "state" in value else value.get("run", {}).get("state")
        return s.ttl_finished_s if views.is_finished(state) else s.ttl_running_s

    return ttl


def _respond(
    request: Request,
    svc: Services,
    model: type[BaseModel],
    what: tuple,
    got: Cached,
    payload: Callable[[], dict],
) -> Response:
    """The validated JSON body, built (and gzipped, when large) once per (endpoint, params,
    fetch) and reused: a cache hit then costs no validation, serialisation or compression."""
    key = (*what, got.fetched_at, got.stale)
    kept = svc.bodies.get(key)
    if kept is None:
        body = _validated(model, payload(), what).model_dump_json(by_alias=True).encode()
        zipped = gzip.compress(body, compresslevel=5) if len(body) >= bodies.GZIP_MIN else None
        kept = (body, zipped)
        svc.bodies.put(key, kept)
    body, zipped = kept
    gz = zipped is not None and "gzip" in request.headers.get("accept-encoding", "")
    headers = {"Vary": "Accept-Encoding"} if zipped is not None else {}
    if gz:
        headers["Content-Encoding"] = "gzip"
    content = zipped if gz else body
    if got.expires is not None and not got.stale:
        fast_store(svc.fast, request.scope, content, headers, got.expires)
    return Response(content, media_type="application/json", headers=headers)


def _validated(model: type[BaseModel], payload: dict, what: tuple) -> BaseModel:
    """`payload` as `model`. The views type every value from a source (null when it cannot
    be represented); should a source still hand over something the response model refuses,
    that is the source answering garbage (a 502 and one log line naming the fields, never
    their values), not a 500."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        where = sorted({".".join(map(str, e.get("loc", ()))) for e in exc.errors()})[:5]
        source = what[1] if len(what) > 1 else "?"
        degraded.report(
            f"shape:{source}:{what[0]}",
            f"{source} {what[0]}: data the API cannot represent at {', '.join(where)}; "
            "answering 502",
        )
        raise UpstreamError(
            f"the {source} source answered data the service cannot represent"
        ) from None


def _envelope(source: str, got: Cached) -> dict:
    return {"source": source, "fetched_at": got.fetched_at, "stale": got.stale}


@router.get(
    "/api/{source}/runs",
    response_model=RunsResponse,
    operation_id="listRuns",
    responses=_ERRORS,
    summary="Latest runs, newest first",
)
async def list_runs(
    request: Request,
    source: SourceParam,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
    group: Annotated[
        str | None,
        Query(max_length=128, description="only the runs of this --num-seeds group"),
    ] = None,
) -> Response:
    svc = _services(request)
    got = await _load(
        svc,
        source,
        "runs",
        (limit, group or ""),
        lambda src: src.list_runs(limit, group),
        lambda _: svc.settings.ttl_runs_s,
    )
    if source == "local":
        # A listed run is likely opened next: prepare its history in the background.
        svc.warmer.request(r["run_id"] for r in got.value)
    return _respond(
        request,
        svc,
        RunsResponse,
        ("runs", source, limit, group),
        got,
        lambda: {**_envelope(source, got), "runs": got.value},
    )


@router.get(
    "/api/{source}/runs/{run_id}/summary",
    response_model=SummaryResponse,
    operation_id="getRunSummary",
    responses=_ERRORS,
    summary="Run info, config subset and KPIs",
)
async def run_summary(request: Request, source: SourceParam, run_id: RunIdParam) -> Response:
    svc = _services(request)
    got = await _load(
        svc, source, "summary", (run_id,), lambda src: src.summary(run_id), _ttl_by_state(svc)
    )
    return _respond(
        request,
        svc,
        SummaryResponse,
        ("summary", source, run_id),
        got,
        lambda: {**_envelope(source, got), **got.value},
    )


async def _windows(svc: Services, source: str, run_id: str) -> Cached:
    return await _load(
        svc, source, "windows", (run_id,), lambda src: src.windows(run_id), _ttl_by_state(svc)
    )


KeysParam = Annotated[
    str | None,
    Query(
        max_length=4000,
        description="comma-separated window keys (window_id is always included); "
        "absent: every window key",
    ),
]


def _parse_keys(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return list(WINDOW_KEYS)
    asked = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in asked if k not in WINDOW_KEYS]
    if unknown:
        raise InvalidRequest(f"unknown window key(s): {', '.join(unknown[:5])}"[:300])
    return ["window_id", *dict.fromkeys(k for k in asked if k != "window_id")]


async def _columns(svc: Services, source: str, run_id: str) -> tuple[columns.Columns, Cached]:
    """The run's window columns and the envelope's fetch facts. Local: straight from the
    column store (refreshed from windows.jsonl); W&B: from the cached window rows."""
    if source == "local":

        def read() -> columns.Columns:
            path = records.run_dir(svc.settings.runs_dir, run_id)
            if path is None:
                raise NotFound(f"no run {run_id!r} in the local run records")
            try:
                return columns.store.get(path / "windows.jsonl")
            except (OSError, ValueError) as exc:
                raise UpstreamError("the run's records are unreadable") from exc

        cols = await asyncio.to_thread(read)
        return cols, Cached(None, cols.loaded_at, False)
    got = await _windows(svc, source, run_id)
    key = ("wandb", svc.settings.wandb_entity, svc.settings.wandb_project, run_id, got.fetched_at)
    cols = await asyncio.to_thread(columns.rows_store.get, key, got.value["rows"])
    return cols, got


def _json(request: Request, payload: dict) -> Response:
    # orjson and a fast gzip level: a 1,000-row history is about 1 MB of JSON.
    return _send(request, bodies.Body(history.encode_or_502(payload)))


def _wants_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def _send(request: Request, body: bodies.Body) -> Response:
    headers = {"Vary": "Accept-Encoding"}
    content = body.raw
    if len(content) >= bodies.GZIP_MIN and _wants_gzip(request):
        content = body.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(content, media_type="application/json", headers=headers)


@router.get(
    "/api/{source}/runs/{run_id}/history",
    response_model=HistoryResponse,
    operation_id="getRunHistory",
    responses=_ERRORS,
    summary="Window rows over the whole run, min-max downsampled to at most max_points",
)
async def run_history(
    request: Request,
    source: SourceParam,
    run_id: RunIdParam,
    max_points: Annotated[int, Query(ge=2, le=10_000)] = 1000,
    keys: KeysParam = None,
) -> Response:
    svc = _services(request)
    wanted = _parse_keys(keys)
    cols, got = await _columns(svc, source, run_id)
    body = await asyncio.to_thread(
        history.cached_body,
        history.history_key(source, run_id, cols, got.fetched_at, got.stale, wanted, max_points),
        lambda: history.encoded(
            source, run_id, cols, got.fetched_at, got.stale, wanted, max_points
        ),
        _wants_gzip(request),
    )
    return _send(request, body)


def _csv_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        quote = any(c in value for c in '",\r\n')
        return '"' + value.replace('"', '""') + '"' if quote else value
    return repr(value)


@router.get(
    "/api/{source}/runs/{run_id}/windows.csv",
    operation_id="exportWindowsCsv",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **_ERRORS,
    },
    response_class=StreamingResponse,
    summary="Every window and every (or the chosen) key at full resolution, as CSV",
)
async def windows_csv(
    request: Request, source: SourceParam, run_id: RunIdParam, keys: KeysParam = None
) -> StreamingResponse:
    svc = _services(request)
    wanted = _parse_keys(keys)
    cols, _ = await _columns(svc, source, run_id)

    def chunks():
        yield ",".join(wanted) + "\r\n"
        step = 1000
        for start in range(0, cols.n, step):
            idx = np.arange(start, min(start + step, cols.n))
            values = [cols.values(k, idx) for k in wanted]
            yield "".join(
                ",".join(_csv_field(v) for v in row) + "\r\n" for row in zip(*values, strict=True)
            )

    return StreamingResponse(
        iterate_in_threadpool(chunks()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{run_id}-windows.csv"'},
    )


@router.get(
    "/api/{source}/runs/{run_id}/replayable",
    response_model=ReplayableResponse,
    operation_id="listReplayable",
    responses=_ERRORS,
    summary="Windows a replay can play (checkpoint and eval record on this server)",
)
async def list_replayable(request: Request, source: SourceParam, run_id: RunIdParam) -> Response:
    svc = _services(request)
    if source == "wandb" and svc.wandb is None:
        raise NotConfigured(
            f"W&B is not configured on this service ({svc.settings.wandb_missing}); use /api/local"
        )

    def read() -> list[dict]:
        path = records.run_dir(svc.settings.runs_dir, run_id)
        if path is None:
            if source == "local":
                raise NotFound(f"no run {run_id!r} in the local run records")
            return []
        return replayable.windows(path)

    found = await asyncio.to_thread(read)
    payload = {
        **_envelope(source, Cached(None, datetime.now(UTC), False)),
        "run_id": run_id,
        "windows": found,
    }
    return _json(request, ReplayableResponse.model_validate(payload).model_dump(by_alias=True))


@router.get(
    "/api/{source}/runs/{run_id}/iterations",
    response_model=IterationsResponse,
    operation_id="listIterations",
    responses=_ERRORS,
    summary="The last N windows' rows, newest first",
)
async def list_iterations(
    request: Request,
    source: SourceParam,
    run_id: RunIdParam,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    svc = _services(request)
    if source == "local":
        # From the column store: a long run's windows are not re-read per request.
        cols, got = await _columns(svc, source, run_id)
        idx = np.arange(cols.n - 1, max(cols.n - limit, 0) - 1, -1)
        payload = {
            **_envelope(source, got),
            "run_id": run_id,
            "iterations": cols.rows(list(WINDOW_KEYS), idx),
        }
        return _json(request, IterationsResponse.model_validate(payload).model_dump(by_alias=True))
    got = await _windows(svc, source, run_id)
    return _respond(
        request,
        svc,
        IterationsResponse,
        ("iterations", source, run_id, limit),
        got,
        lambda: {
            **_envelope(source, got),
            "run_id": run_id,
            "iterations": got.value["rows"][-limit:][::-1],
        },
    )


async def _with_local_replay_seeds(
    svc: Services, run_id: str, window_id: int, got: Cached
) -> Cached:
    """The trainer does not log replay seeds, the evaluated policy or the replays' scored
    episodes to W&B; replays need the local checkpoints anyway, so these come from the
    local eval record when the run is here too."""
    ev = got.value.get("eval")
    if not ev or (ev["replay_seeds"] and ev.get("policy") and ev.get("replays")):
        return got

    def local() -> dict | None:
        path = records.run_dir(svc.settings.runs_dir, run_id)
        if path is None:
            return None
        try:
            return views.eval_from_record(records.read_eval(path, window_id))
        except (OSError, ValueError):
            return None  # a damaged local record: the W&B answer as it is

    found = await asyncio.to_thread(local)
    if not found:
        return got
    merged = {
        **ev,
        "replay_seeds": ev["replay_seeds"] or found["replay_seeds"],
        "policy": ev.get("policy") or found["policy"],
        "replays": ev.get("replays") or found["replays"],
    }
    return Cached({**got.value, "eval": merged}, got.fetched_at, got.stale)


async def _local_window_detail(
    request: Request, svc: Services, run_id: str, iteration: int
) -> Response:
    """One window's drill-down from the local stores: its row from the columns, its updates
    through the updates.jsonl index (a long run's file is not re-parsed per request)."""

    def build() -> dict:
        path = records.run_dir(svc.settings.runs_dir, run_id)
        if path is None:
            raise NotFound(f"no run {run_id!r} in the local run records")
        try:
            cols = columns.store.get(path / "windows.jsonl")
            ids = cols.num["window_id"]
            pos = int(np.searchsorted(ids, iteration))
            if pos >= cols.n or ids[pos] != iteration:
                raise NotFound(f"run {run_id!r} has no window {iteration}")
            updates = columns.update_index.rows(path / "updates.jsonl", iteration)
            record = records.read_eval(path, iteration)
        except (OSError, ValueError) as exc:
            raise UpstreamError("the run's records are unreadable") from exc
        # typed first: a record's `update` may be any JSON value (null when not an int)
        updates = sorted(
            (views.update_row(u) for u in updates),
            key=lambda u: u["update"] if u["update"] is not None else 0,
        )
        return {
            "source": "local",
            "fetched_at": cols.loaded_at,
            "stale": False,
            "run_id": run_id,
            "window_id": iteration,
            "row": cols.rows(list(WINDOW_KEYS), np.array([pos]))[0],
            "updates": updates,
            "eval": views.eval_from_record(record),
            "replayable": replayable.is_replayable(svc.settings.runs_dir, run_id, iteration),
        }

    payload = await asyncio.to_thread(build)
    return _json(request, IterationResponse.model_validate(payload).model_dump(by_alias=True))


@router.get(
    "/api/{source}/runs/{run_id}/iterations/{iteration}",
    response_model=IterationResponse,
    operation_id="getIteration",
    responses=_ERRORS,
    summary="One window's drill-down: row, updates, eval histograms and action mix",
)
async def get_iteration(
    request: Request,
    source: SourceParam,
    run_id: RunIdParam,
    iteration: Annotated[int, Path(ge=0, le=1_000_000_000, description="a window_id")],
) -> Response:
    svc = _services(request)
    if source == "local":
        return await _local_window_detail(request, svc, run_id, iteration)
    windows = await _windows(svc, source, run_id)
    row = next((r for r in windows.value["rows"] if r["window_id"] == iteration), None)
    if row is None:
        raise NotFound(f"run {run_id!r} has no window {iteration}")
    # A window's rows are complete once its window row exists: cache it long.
    got = await _load(
        svc,
        source,
        "iteration",
        (run_id, iteration),
        lambda src: src.window_detail(run_id, iteration, row),
        lambda _: svc.settings.ttl_finished_s,
    )
    got = await _with_local_replay_seeds(svc, run_id, iteration, got)
    can_replay = await asyncio.to_thread(
        replayable.is_replayable, svc.settings.runs_dir, run_id, iteration
    )
    return _respond(
        request,
        svc,
        IterationResponse,
        ("iteration", source, run_id, iteration, can_replay),
        got,
        lambda: {
            **_envelope(source, got),
            "run_id": run_id,
            "window_id": iteration,
            **got.value,
            "replayable": can_replay,
        },
    )
