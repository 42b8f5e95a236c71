"""The app factory: `create_app(settings)` builds one configured FastAPI instance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from analytics_service import __version__
from analytics_service.errors import ApiError, install_error_handlers
from analytics_service.fastpath import FastPathMiddleware
from analytics_service.middleware import CatchAllMiddleware, RequestIdMiddleware
from analytics_service.models import HealthResponse
from analytics_service.ratelimit import RateLimitMiddleware
from analytics_service.redact import install_log_redaction
from analytics_service.routes_data import router as data_router
from analytics_service.routes_play import router as play_router
from analytics_service.routes_replay import router as replay_router
from analytics_service.settings import Settings
from analytics_service.state import Services


def create_app(settings: Settings | None = None) -> FastAPI:
    """A configured app; `settings` default to the environment and `.env`."""
    settings = settings or Settings()
    if settings.wandb_api_key is not None:
        install_log_redaction(settings.wandb_api_key.get_secret_value())
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The newest runs' history is prepared in the background (never awaited here).
        services.warmer.request_newest(
            settings.warm_runs, lambda n: [r["run_id"] for r in services.local.list_runs(n)]
        )
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Caravan analytics service",
        version=__version__,
        description="W&B proxy with a cache, local run records, play sessions and replays. "
        "Contract: docs/API.md.",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(data_router)
    app.include_router(play_router)
    app.include_router(replay_router)

    @app.get(
        "/api/health",
        response_model=HealthResponse,
        operation_id="getHealth",
        summary="Which sources are configured and reachable",
    )
    async def health(request: Request) -> HealthResponse:
        return HealthResponse.model_validate(await _health(services))

    # Order matters (last added is outermost): CORS, request id, the rate limit, the fast
    # path for fresh cached answers, and innermost the catch-all that turns an unexpected
    # exception into a JSON 500, so every answer (errors too) gets every header.
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(FastPathMiddleware, table=services.fast)
    app.add_middleware(
        RateLimitMiddleware,
        rate=settings.rate_limit_per_s,
        burst=settings.rate_limit_burst,
        trust_forwarded_for=settings.trust_forwarded_for,
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_origin_regex=settings.allowed_origin_regex,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "X-Request-ID", "X-Play-Client"],
        expose_headers=[
            "Retry-After",
            "X-Request-ID",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "Content-Disposition",
        ],
        max_age=600,
    )
    return app


def _availability(health: dict) -> dict:
    # `available`/`reason`: whether to offer the source, and one line saying why not.
    ok = bool(health.get("configured") and health.get("reachable"))
    return {**health, "available": ok, "reason": None if ok else health.get("detail")}


async def _health(svc: Services) -> dict:
    s = svc.settings
    now = time.time()
    cached = svc.health
    if cached and now - cached["at"] < s.health_ttl_s:
        wandb_health = cached["value"]
    elif svc.wandb is None:
        wandb_health = {"configured": False, "reachable": None, "detail": s.wandb_missing}
    else:
        try:
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(
                loop.run_in_executor(svc.executor, svc.wandb.ping), min(s.fetch_timeout_s, 5.0)
            )
            wandb_health = {
                "configured": True,
                "reachable": True,
                "detail": f"{s.wandb_entity}/{s.wandb_project}",
            }
        except (ApiError, TimeoutError) as exc:
            detail = exc.message if isinstance(exc, ApiError) else "W&B did not answer in time"
            wandb_health = {"configured": True, "reachable": False, "detail": detail}
        svc.health = {"at": now, "value": wandb_health}
    runs_dir = s.runs_dir
    local_ok = runs_dir.is_dir()
    local_health = {
        "configured": True,
        "reachable": local_ok,
        "detail": str(runs_dir) if local_ok else f"{runs_dir} does not exist (no runs yet)",
    }
    return {
        "status": "ok",
        "fetched_at": datetime.now(UTC),
        "sources": {"wandb": _availability(wandb_health), "local": _availability(local_health)},
        "default_source": "wandb" if wandb_health.get("reachable") else "local",
        "cache": {"on_disk": not svc.cache.degraded, "detail": svc.cache.degraded},
    }
