"""The W&B source: the real `wandb.Api` client, bounded in time, behind the loopback shim.

Every method is blocking (call it from a worker thread with a deadline, see `fetch.py`).
Errors come out as the service's ApiError subclasses; messages never carry the key.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
from datetime import UTC, datetime
from typing import Any

from analytics_service import degraded, liveness, records, views
from analytics_service.errors import (
    ApiError,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from analytics_service.settings import Settings
from analytics_service.wandb_shim import WandbShim, parse_marker
from ppo.wandb_mapping import window_step_range

log = logging.getLogger("analytics_service.wandb")

_client_env_lock = threading.Lock()


def configure_client_env(settings: Settings) -> None:
    """Bound the wandb client's own retries and silence its terminal output.

    The shim already turns upstream failures into non-retried answers; these settings
    cover what is left (the client's link to the shim). They are read when wandb-core
    starts, so they are set before the first `wandb.Api`.
    """
    with _client_env_lock:
        os.environ.setdefault("WANDB__GRAPHQL_RETRY_MAX", "1")  # 0 means "default (20)"
        os.environ.setdefault("WANDB__GRAPHQL_RETRY_WAIT_MIN_SECONDS", "0.2")
        os.environ.setdefault("WANDB__GRAPHQL_RETRY_WAIT_MAX_SECONDS", "0.5")
        os.environ.setdefault(
            "WANDB__GRAPHQL_TIMEOUT_SECONDS", str(math.ceil(settings.wandb_timeout_s) + 1)
        )
        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_CONSOLE", "off")


def translate(exc: BaseException, settings: Settings) -> ApiError:
    """The service's error for an exception raised by the wandb client."""
    if isinstance(exc, ApiError):
        return exc
    message = str(exc)
    key = settings.wandb_api_key.get_secret_value() if settings.wandb_api_key else ""
    if key:
        message = message.replace(key, "[redacted]")
    failure = parse_marker(message)
    if failure is not None:
        if failure.kind == "rate_limited":
            return RateLimited(
                "W&B is rate-limiting this service; try again later",
                retry_after_s=failure.retry_after_s or settings.wandb_default_retry_after_s,
            )
        if failure.kind == "timeout":
            return UpstreamTimeout("W&B did not answer in time")
        if failure.kind == "auth":
            return UpstreamError(f"W&B rejected the service's API key (HTTP {failure.status})")
        if failure.kind == "unreachable":
            return UpstreamError("W&B is unreachable")
        if failure.kind == "malformed":
            return UpstreamError("W&B answered with malformed data")
        return UpstreamError(f"W&B answered HTTP {failure.status}")
    lowered = message.lower()
    if "project" in lowered and ("not found" in lowered or "could not find" in lowered):
        return UpstreamError(
            f"W&B project {settings.wandb_entity}/{settings.wandb_project} not found "
            "(check WANDB_ENTITY and WANDB_PROJECT)"
        )
    if "could not find run" in lowered or "not found" in lowered:
        return NotFound("no such run in W&B")
    if "did not respond in time" in lowered or "timed out" in lowered:
        return UpstreamTimeout("W&B did not answer in time")
    log.warning("W&B call failed: %s: %s", type(exc).__name__, message[:300])
    return UpstreamError("W&B request failed")


def _state(run: Any, summary: dict) -> str:
    """W&B's state in the API's terms; a `running` run that has logged no window within the
    liveness bound (its trainer hung while wandb lives on) reads `stalled`."""
    has_window = "wall_time_s" in summary
    last_log = summary.get("_timestamp") if has_window else run.created_at
    times = [summary.get("window_time_s")] if has_window else []
    return liveness.wandb_state(views.run_state(run.state), last_log, times, datetime.now(UTC))


def _summary(run: Any) -> dict:
    summary = run.summary_metrics
    return dict(summary) if isinstance(summary, dict) else {}


class WandbSource:
    """W&B runs of one entity/project, read through the real client."""

    name = "wandb"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._api: Any = None
        self._shim: WandbShim | None = None

    @property
    def path(self) -> str:
        return f"{self.settings.wandb_entity}/{self.settings.wandb_project}"

    def close(self) -> None:
        with self._lock:
            if self._shim is not None:
                self._shim.stop()
                self._shim = None
            self._api = None

    def _client(self) -> Any:
        # One client for the process; flushed before each use because `wandb.Api` caches
        # runs in-process and would otherwise serve old data forever.
        with self._lock:
            if self._api is not None:
                self._api.flush()
                return self._api
            s = self.settings
            assert s.wandb_api_key is not None
            configure_client_env(s)
            if self._shim is None:
                self._shim = WandbShim(s.wandb_base_url, timeout_s=s.wandb_timeout_s).start()
            import wandb  # heavy import, only when W&B is configured

            self._api = wandb.Api(
                overrides={"base_url": self._shim.url, "entity": s.wandb_entity},
                api_key=s.wandb_api_key.get_secret_value(),
                timeout=math.ceil(s.fetch_timeout_s) + 1,
            )
            return self._api

    def _call(self, fn):
        try:
            return fn()
        except Exception as exc:
            # (a client whose handshake failed was never stored: the next call retries it)
            raise translate(exc, self.settings) from None

    def _run(self, run_id: str) -> Any:
        return self._client().run(f"{self.path}/{run_id}")

    def ping(self) -> None:
        """One small request; raises the mapped error when W&B is not usable."""

        def go() -> None:
            runs = self._client().runs(self.path, order="-created_at", per_page=1, lazy=True)
            list(itertools.islice(runs, 1))

        self._call(go)

    def list_runs(self, limit: int, group: str | None = None) -> list[dict]:
        """The newest `limit` runs (of `group` only, when given; one `Runs` request with
        config and summary)."""

        def go() -> list[dict]:
            filters = {"group": group} if group is not None else None
            runs = self._client().runs(
                self.path, filters=filters, order="-created_at", per_page=limit, lazy=False
            )
            out = []
            for r in itertools.islice(runs, limit):
                if not (isinstance(r.id, str) and records.is_run_id(r.id)):
                    # No API path can name it (docs/API.md run ids), so it is not listed.
                    degraded.report(
                        "wandb:run_id",
                        "W&B lists a run whose id is not a valid run id; leaving it out",
                    )
                    continue
                summary = _summary(r)
                out.append(
                    views.run_info(
                        run_id=r.id,
                        name=r.name,
                        state=_state(r, summary),
                        created_at=r.created_at,
                        updated_at=r._attrs.get("heartbeatAt"),
                        last_window=summary if "wall_time_s" in summary else None,
                        config=dict(r.config or {}),
                        kpis=views.kpis_from_summary(summary),
                        group=r._attrs.get("group"),
                        seed_index=dict(r.config or {}).get("seed_index"),
                        code_version=r._attrs.get("commit"),
                    )
                )
            return out

        return self._call(go)

    def summary(self, run_id: str) -> dict:
        """Run detail and KPIs (the summary carries the last window row)."""

        def go() -> dict:
            r = self._run(run_id)
            summary = _summary(r)
            return {
                "run": {
                    "run_id": run_id,  # the id W&B found it by (its own may be garbage)
                    "name": views.as_str(r.name),
                    "state": _state(r, summary),
                    "created_at": views.parse_time(r.created_at),
                    "updated_at": views.parse_time(r._attrs.get("heartbeatAt")),
                    "config": views.config_subset(dict(r.config or {})),
                    "full_config": views.full_config(dict(r.config or {})),
                    **views.run_meta(
                        summary if "wall_time_s" in summary else None,
                        r._attrs.get("group"),
                        dict(r.config or {}).get("seed_index"),
                        r._attrs.get("commit"),
                    ),
                },
                "kpis": views.kpis_from_summary(summary),
            }

        return self._call(go)

    def windows(self, run_id: str) -> dict:
        """All window rows of the run (one full history scan), and its state."""

        def go() -> dict:
            r = self._run(run_id)
            rows = [
                row
                for row in r.scan_history(page_size=1000, use_cache=False)
                if views.is_window_row(row)
            ]
            rows.sort(key=lambda row: _int_or(row["window_id"], 0))  # ints: is_window_row
            return {
                "state": _state(r, _summary(r)),
                "rows": [views.wandb_window_row(row) for row in rows],
            }

        return self._call(go)

    def window_detail(self, run_id: str, window_id: int, row: dict) -> dict:
        """One window's drill-down: the steps of its updates and its window row."""
        first, last = row.get("first_update"), row.get("last_update")
        # The window's steps (docs/RUN_RECORDS.md, W&B mapping); the whole history when the
        # row does not say which updates it holds.
        steps: dict[str, int] = {}
        if isinstance(first, int) and isinstance(last, int) and first <= last:
            lo, hi = window_step_range(first, last, window_id)
            steps = {"min_step": lo, "max_step": hi}

        def go() -> dict:
            r = self._run(run_id)
            scan = r.scan_history(**steps, use_cache=False)
            updates, window = [], None
            for item in scan:
                if views.as_int(item.get("window_id")) != window_id:
                    continue
                if "update" in item:
                    updates.append(item)
                elif window is None and views.is_window_row(item):
                    window = item  # the first, as on the local source
            if window is None:
                raise NotFound(f"run {run_id!r} has no window {window_id} in W&B")
            updates.sort(key=lambda u: _int_or(u.get("update"), 0))
            return {
                "row": views.wandb_window_row(window),
                "updates": [views.update_row(u) for u in updates],
                "eval": views.eval_from_wandb_row(window),
            }

        return self._call(go)


def _int_or(value: object, default: int) -> int:
    out = views.as_int(value)
    return default if out is None else out
