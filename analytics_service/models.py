"""Pydantic response models: the machine-readable form of docs/API.md.

Row models are built from the canonical key lists, so metric keys keep their names
(`eval/return_mean`) in JSON and in the OpenAPI schema.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from analytics_service.keys import (
    ACTION_KINDS,
    CONFIG_SUBSET,
    INT_KEYS,
    KPI_KEYS,
    STR_KEYS,
    UPDATE_KEYS,
    WINDOW_KEYS,
)

SourceName = Literal["wandb", "local"]
RunState = Literal["running", "stalled", "finished", "crashed", "failed", "killed", "unknown"]
_STATE_DOC = (
    "running; stalled (the trainer holds its lock, or is on another host, but has not "
    "written a heartbeat within the liveness bound); finished; crashed (the trainer is gone: "
    "killed, out of memory, machine lost; W&B 'preempted' too); failed (the trainer stopped "
    "on an error); killed (stopped from the W&B UI); unknown (the records say something "
    "else). See docs/API.md, 'Run liveness'."
)


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


def _field_name(key: str) -> str:
    return re.sub(r"\W", "_", key)


def _row_model(name: str, keys: tuple[str, ...], doc: str) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for key in keys:
        if key in STR_KEYS:
            typ: Any = str | None
        elif key in INT_KEYS:
            typ = int | None
        else:
            typ = float | None
        fields[_field_name(key)] = (typ, Field(..., alias=key))
    model = create_model(name, __base__=_Model, __doc__=doc, **fields)
    return model


WindowRow = _row_model("WindowRow", WINDOW_KEYS, "One window (iteration): a windows.jsonl row.")


def _partial_row_model(name: str, keys: tuple[str, ...], doc: str) -> type[BaseModel]:
    # Like WindowRow, but only `window_id` is always present (history with a `keys` filter).
    fields: dict[str, Any] = {}
    for key in keys:
        base: Any = str if key in STR_KEYS else int if key in INT_KEYS else float
        typ: Any = base | None
        default = ... if key == "window_id" else None
        fields[_field_name(key)] = (typ, Field(default, alias=key))
    return create_model(name, __base__=_Model, __doc__=doc, **fields)


HistoryRow = _partial_row_model(
    "HistoryRow",
    WINDOW_KEYS,
    "A window row restricted to the history's `keys` (window_id always present).",
)
UpdateRow = _row_model("UpdateRow", UPDATE_KEYS, "One PPO update: an updates.jsonl row.")
Kpis = _row_model("Kpis", KPI_KEYS, "The last window's headline metrics (null before it).")


class ErrorBody(_Model):
    code: str = Field(..., examples=["not_found"])
    message: str
    retry_after_s: int | None = Field(None, description="present on 429 (and some 503)")


class ErrorResponse(_Model):
    error: ErrorBody


class Envelope(_Model):
    source: SourceName
    fetched_at: datetime = Field(..., description="when the data was read from its source")
    stale: bool = Field(..., description="served from cache after the source failed")


class RunMeta(_Model):
    group: str | None = Field(None, description="the run's --num-seeds launch (null: single)")
    seed_index: int | None = Field(None, description="this run's index in its group")
    code_version: str | None = Field(None, description="git commit (-dirty) or unknown")
    duration_s: float | None = Field(
        None, description="seconds of training: the last window's wall_time_s"
    )


RunConfig = create_model(  # type: ignore[call-overload]  # fields from a key list
    "RunConfig",
    __base__=_Model,
    __doc__="The config fields shown with a run (null where the run does not have them).",
    **{
        key: (
            (bool | None)
            if key == "action_masking"
            else (float | None)
            if key == "lr"
            else (int | None),
            Field(None),
        )
        for key in CONFIG_SUBSET
    },
)


class RunInfo(RunMeta):
    run_id: str
    name: str | None
    state: RunState = Field(..., description=_STATE_DOC)
    created_at: datetime | None
    updated_at: datetime | None
    window_id: int | None = Field(..., description="latest window (null before the first)")
    env_steps: int | None
    config: RunConfig
    kpis: Kpis  # type: ignore[valid-type]


class RunsResponse(Envelope):
    runs: list[RunInfo]


class RunDetail(RunMeta):
    run_id: str
    name: str | None
    state: RunState = Field(..., description=_STATE_DOC)
    created_at: datetime | None
    updated_at: datetime | None
    config: RunConfig
    full_config: dict[str, Any] = Field(..., description="the run's whole config as recorded")


class SummaryResponse(Envelope):
    run: RunDetail
    kpis: Kpis  # type: ignore[valid-type]


class HistoryResponse(Envelope):
    run_id: str
    total_rows: int = Field(..., description="windows in the run before downsampling")
    downsampled: bool
    buckets: int | None = Field(
        ..., description="min-max buckets over the window index (null: not downsampled)"
    )
    keys: list[str] = Field(..., description="the keys every row holds, window_id first")
    rows: list[HistoryRow]  # type: ignore[valid-type]


class IterationsResponse(Envelope):
    run_id: str
    iterations: list[WindowRow]  # type: ignore[valid-type]


class Histogram(_Model):
    bin_edges: list[float]
    counts: list[int]


class EvalHistograms(_Model):
    return_: Histogram = Field(..., alias="return")
    profit: Histogram


ActionMix = create_model(  # type: ignore[call-overload]  # fields from the kinds
    "ActionMix",
    __base__=_Model,
    __doc__="Fractions of the evaluation's actions by kind.",
    **{kind: (float | None, Field(...)) for kind in ACTION_KINDS},
)


EvalPolicy = Literal["sampled", "greedy"]


class ReplayEpisode(_Model):
    rank: Literal["best", "median", "worst"]
    seed: int
    return_: float | None = Field(..., alias="return")
    profit: float | None
    survived: bool | None
    length: int | None


class EvalDetail(_Model):
    histograms: EvalHistograms
    action_mix: ActionMix
    replay_seeds: list[int]
    policy: EvalPolicy | None = Field(
        None, description="the policy the evaluation measured (null: record predates it)"
    )
    replays: list[ReplayEpisode] = Field(
        default_factory=list, description="the replay seeds' episodes as the evaluation scored"
    )


class IterationResponse(Envelope):
    run_id: str
    window_id: int
    row: WindowRow  # type: ignore[valid-type]
    updates: list[UpdateRow]  # type: ignore[valid-type]
    eval: EvalDetail | None = Field(..., description="null when this window has no evaluation")
    replayable: bool = Field(False, description="its checkpoint is on this server")


class ReplayableWindow(_Model):
    window_id: int
    env_steps: int | None
    policy: EvalPolicy | None
    replays: list[ReplayEpisode]


class ReplayableResponse(Envelope):
    run_id: str
    windows: list[ReplayableWindow] = Field(..., description="newest first")


class SourceHealth(_Model):
    available: bool = Field(..., description="offer this source: configured and answering")
    reason: str | None = Field(..., description="why it is not available (null when it is)")
    configured: bool
    reachable: bool | None = Field(..., description="null when not configured")
    detail: str


class HealthSources(_Model):
    wandb: SourceHealth
    local: SourceHealth


class CacheHealth(_Model):
    on_disk: bool = Field(
        ..., description="false while the W&B response cache runs from memory only"
    )
    detail: str = Field(..., description="why it is not on disk ('' when it is)")


class HealthResponse(_Model):
    status: Literal["ok"]
    fetched_at: datetime
    sources: HealthSources
    default_source: SourceName
    cache: CacheHealth


# ---- play and replay -------------------------------------------------------------------


class _Request(_Model):
    # Request bodies are strict: `{"action": "1"}`, `1.0` or `true` for an int is a 422
    # that names the field, not a silent coercion; unknown fields are refused too.
    model_config = ConfigDict(populate_by_name=True, extra="forbid", strict=True)


class PlayStart(_Request):
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="episode seed (uint32); omitted: random"
    )
    replace: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{16,64}$",
        description="a session of this client to close first (the game this one replaces)",
    )


class PlayStep(_Request):
    action: int = Field(..., ge=0, le=68, description="action index (docs/INTERFACES.md §3)")


class ReplayControl(_Request):
    """A replay client's control message (`WS /ws/replay`): JSON text, these fields only."""

    pace_ms: int | None = Field(None, ge=0, le=5000, description="ms between steps")
    pause: bool | None = Field(None, description="true pauses, false resumes")


class ActionTaken(_Model):
    action: int
    label: str


class EpisodeMetrics(_Model):
    return_: float = Field(..., alias="return")
    profit: float
    length: int
    invalid_actions: int
    survived: bool | None = Field(..., description="set when the episode has ended")


class PlayState(_Model):
    session_id: str
    seed: int
    expires_at: datetime = Field(..., description="when it expires unless used again")
    idle_expiry_s: int = Field(..., description="idle time after which a session expires")
    done: bool
    reward: float
    last_action: ActionTaken | None
    invalid: bool
    view: dict[str, Any] = Field(..., description="envjax.render.describe (docs/INTERFACES.md)")
    episode: EpisodeMetrics
