"""The data endpoints: `/api/{source}/runs...` for W&B and the local run records."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError

from analytics_service import degraded, records, views
from analytics_service.cache import Cached
from analytics_service.errors import NotConfigured, NotFound, UpstreamError
from analytics_service.fastpath import fast_store
from analytics_service.keys import RUN_ID_PATTERN
from analytics_service.models import (
    ErrorResponse,
    HistoryResponse,
    IterationResponse,
    IterationsResponse,
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
        key = ("local", kind, *key_parts)
        now = time.monotonic()
        hit = svc.local_memo.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await asyncio.to_thread(call, svc.local)
        memo_s = svc.settings.local_memo_s
        got = Cached(value, datetime.now(UTC), False, time.time() + memo_s if memo_s else None)
        if memo_s > 0:
            svc.local_memo.put(key, (now + svc.settings.local_memo_s, got))
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
    bodies = svc.bodies.get(key)
    if bodies is None:
        body = _validated(model, payload(), what).model_dump_json(by_alias=True).encode()
        zipped = gzip.compress(body, compresslevel=5) if len(body) >= _GZIP_MIN else None
        bodies = (body, zipped)
        svc.bodies.put(key, bodies)
    body, zipped = bodies
    gz = zipped is not None and "gzip" in request.headers.get("accept-encoding", "")
    headers = {"Vary": "Accept-Encoding"} if zipped is not None else {}
    if gz:
        headers["Content-Encoding"] = "gzip"
    content = zipped if gz else body
    if got.expires is not None and not got.stale:
        fast_store(svc.fast, request.scope, content, headers, got.expires)
    return Response(content, media_type="application/json", headers=headers)


_GZIP_MIN = 4096


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
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    svc = _services(request)
    got = await _load(
        svc,
        source,
        "runs",
        (limit,),
        lambda src: src.list_runs(limit),
        lambda _: svc.settings.ttl_runs_s,
    )
    return _respond(
        request,
        svc,
        RunsResponse,
        ("runs", source, limit),
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


@router.get(
    "/api/{source}/runs/{run_id}/history",
    response_model=HistoryResponse,
    operation_id="getRunHistory",
    responses=_ERRORS,
    summary="One row per window, downsampled to at most max_points",
)
async def run_history(
    request: Request,
    source: SourceParam,
    run_id: RunIdParam,
    max_points: Annotated[int, Query(ge=2, le=10_000)] = 1000,
) -> Response:
    svc = _services(request)
    got = await _windows(svc, source, run_id)

    def payload() -> dict:
        rows = got.value["rows"]
        picked = views.downsample(rows, max_points)
        return {
            **_envelope(source, got),
            "run_id": run_id,
            "total_rows": len(rows),
            "downsampled": len(picked) < len(rows),
            "rows": picked,
        }

    return _respond(
        request, svc, HistoryResponse, ("history", source, run_id, max_points), got, payload
    )


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
    """The trainer does not log replay seeds to W&B; replays need the local checkpoints
    anyway, so the seeds come from the local eval record when the run is here too."""
    ev = got.value.get("eval")
    if not ev or ev["replay_seeds"]:
        return got

    def seeds() -> list[int]:
        path = records.run_dir(svc.settings.runs_dir, run_id)
        record = records.read_eval(path, window_id) if path is not None else None
        return views.replay_seeds((record or {}).get("replay_seeds"))

    found = await asyncio.to_thread(seeds)
    if not found:
        return got
    value = {**got.value, "eval": {**ev, "replay_seeds": found}}
    return Cached(value, got.fetched_at, got.stale)


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
        got = await _load(
            svc,
            source,
            "iteration",
            (run_id, iteration),
            lambda src: src.iteration(run_id, iteration),
            lambda _: 0,
        )
    else:
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
            lambda src: src.iteration(run_id, iteration, row),
            lambda _: svc.settings.ttl_finished_s,
        )
        got = await _with_local_replay_seeds(svc, run_id, iteration, got)
    return _respond(
        request,
        svc,
        IterationResponse,
        ("iteration", source, run_id, iteration),
        got,
        lambda: {**_envelope(source, got), "run_id": run_id, "window_id": iteration, **got.value},
    )
