"""Play sessions: `POST /api/play`, `GET /api/play/{id}`, `POST /api/play/{id}/step`."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request

from analytics_service.episode import Episode
from analytics_service.errors import EpisodeFinished, NotFound, SessionLimit
from analytics_service.models import ErrorResponse, PlayStart, PlayState, PlayStep
from analytics_service.state import Services

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no such (or expired) session"},
    409: {"model": ErrorResponse, "description": "the episode has finished"},
    422: {"model": ErrorResponse, "description": "bad body (action outside 0-68, bad seed)"},
    429: {"model": ErrorResponse, "description": "this client is over its rate"},
    503: {"model": ErrorResponse, "description": "too many live sessions, or no game engine"},
}
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


@dataclass
class Session:
    id: str
    episode: Episode
    expires_at: float
    reward: float = 0.0
    last_action: dict | None = None
    invalid: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> dict:
        view = self.episode.view()
        return {
            "session_id": self.id,
            "seed": self.episode.seed,
            "expires_at": datetime.fromtimestamp(self.expires_at, UTC),
            "done": self.episode.done,
            "reward": self.reward,
            "last_action": self.last_action,
            "invalid": self.invalid,
            "view": view,
            "episode": self.episode.metrics(view),
        }


class PlaySessions:
    """Live sessions with a TTL (refreshed on use) and a cap."""

    def __init__(self, max_sessions: int, ttl_s: float) -> None:
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for sid in [s for s, v in self._sessions.items() if v is not None and v.expires_at <= now]:
            del self._sessions[sid]

    def create(self, seed: int) -> Session:
        now = time.time()
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= self.max_sessions:
                raise SessionLimit(
                    f"{self.max_sessions} play sessions are live; try again later",
                    retry_after_s=30,
                )
            sid = secrets.token_urlsafe(16)
            # Reserve the slot before the (slow, first-time compiling) reset.
            self._sessions[sid] = None  # type: ignore[assignment]
        try:
            session = Session(sid, Episode(seed), now + self.ttl_s)
        except BaseException:
            with self._lock:
                self._sessions.pop(sid, None)
            raise
        with self._lock:
            self._sessions[sid] = session
        return session

    def get(self, sid: str) -> Session:
        now = time.time()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(sid)
            if session is None:
                raise NotFound("no such play session (it may have expired)")
            session.expires_at = now + self.ttl_s
            return session


def _sessions(request: Request) -> PlaySessions:
    svc: Services = request.app.state.services
    if svc.play is None:
        svc.play = PlaySessions(svc.settings.play_max_sessions, svc.settings.play_session_ttl_s)
    return svc.play


@router.post(
    "/api/play",
    status_code=201,
    response_model=PlayState,
    operation_id="startPlay",
    responses=_ERRORS,
    summary="Start a play session on a seed (or a random one)",
)
async def start_play(
    request: Request, body: Annotated[PlayStart | None, Body()] = None
) -> PlayState:
    seed = body.seed if body is not None and body.seed is not None else secrets.randbits(32)
    sessions = _sessions(request)
    session = await asyncio.to_thread(sessions.create, seed)
    return PlayState.model_validate(await asyncio.to_thread(session.state))


@router.get(
    "/api/play/{session_id}",
    response_model=PlayState,
    operation_id="getPlay",
    responses=_ERRORS,
    summary="The session's current state",
)
async def get_play(request: Request, session_id: SessionId) -> PlayState:
    session = _sessions(request).get(session_id)
    return PlayState.model_validate(await asyncio.to_thread(session.state))


def _step(session: Session, action: int) -> dict:
    with session.lock:
        if session.episode.done:
            raise EpisodeFinished("the episode has finished; start a new session")
        reward, invalid = session.episode.step(action)
        session.reward, session.invalid = reward, invalid
        session.last_action = {"action": action, "label": session.episode.label(action)}
        return session.state()


@router.post(
    "/api/play/{session_id}/step",
    response_model=PlayState,
    operation_id="stepPlay",
    responses=_ERRORS,
    summary="Play one action",
)
async def step_play(request: Request, session_id: SessionId, body: PlayStep) -> PlayState:
    session = _sessions(request).get(session_id)
    return PlayState.model_validate(await asyncio.to_thread(_step, session, body.action))
