"""Play sessions: `POST /api/play`, `GET /api/play/{id}`, `POST /api/play/{id}/step`."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request

from analytics_service.episode import Episode
from analytics_service.errors import EpisodeFinished, InvalidRequest, NotFound, SessionLimit
from analytics_service.models import ErrorResponse, PlayStart, PlayState, PlayStep
from analytics_service.state import Services

router = APIRouter()

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no such (or expired) session"},
    409: {"model": ErrorResponse, "description": "the episode has finished"},
    422: {"model": ErrorResponse, "description": "bad body (action outside 0-68, bad seed)"},
    429: {"model": ErrorResponse, "description": "this client is over its rate"},
    503: {
        "model": ErrorResponse,
        "description": "every session is in use by other clients, or no game engine",
    },
}
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass
class Session:
    id: str
    episode: Episode
    expires_at: float
    client: str = ""
    idle_s: float = 0.0
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
            "idle_expiry_s": round(self.idle_s),
            "done": self.episode.done,
            "reward": self.reward,
            "last_action": self.last_action,
            "invalid": self.invalid,
            "view": view,
            "episode": self.episode.metrics(view),
        }


class PlaySessions:
    """Live sessions: an idle expiry (refreshed on use), a per-client cap enforced by
    closing that client's least recently used session, and a service-wide cap."""

    def __init__(self, max_sessions: int, idle_s: float, max_per_client: int = 3) -> None:
        self.max_sessions = max_sessions
        self.idle_s = idle_s
        self.max_per_client = max_per_client
        self._sessions: dict[str, Session | None] = {}  # None: reserved, resetting
        self._owner: dict[str, str] = {}  # session id -> client id
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for sid in [s for s, v in self._sessions.items() if v is not None and v.expires_at <= now]:
            self._close(sid)

    def _close(self, sid: str) -> None:
        self._sessions.pop(sid, None)
        self._owner.pop(sid, None)

    def _idle_text(self) -> str:
        minutes = self.idle_s / 60
        return f"{minutes:g} min" if minutes >= 1 else f"{self.idle_s:g} s"

    def create(self, seed: int, client: str = "", replace: str | None = None) -> Session:
        """A new session for `client`; closes `replace` (if it is this client's) and, at the
        per-client cap, the client's least recently used sessions. Raises SessionLimit when
        every slot is held by other clients."""
        now = time.time()
        with self._lock:
            self._expire(now)
            if replace is not None and self._owner.get(replace) == client:
                self._close(replace)
            mine = [s for s, c in self._owner.items() if c == client]
            mine.sort(key=lambda s: self._sessions[s].expires_at if self._sessions[s] else now)
            # At the per-client cap, or when the service is full and this client holds a
            # game, its least recently used games make room: a new game replaces an old one.
            excess = len(mine) - self.max_per_client + 1
            if len(self._sessions) >= self.max_sessions and mine:
                excess = max(excess, 1)
            for sid in mine[: max(excess, 0)]:
                self._close(sid)
            if len(self._sessions) >= self.max_sessions:
                live = [v.expires_at for v in self._sessions.values() if v is not None]
                wait = max(1, int((min(live) if live else now + 30) - now) + 1)
                raise SessionLimit(
                    f"all {self.max_sessions} play sessions on this service are in use; "
                    f"start a new game again in {wait} s (idle sessions close after "
                    f"{self._idle_text()})",
                    retry_after_s=wait,
                )
            sid = secrets.token_urlsafe(16)
            # Reserve the slot before the (slow, first-time compiling) reset.
            self._sessions[sid] = None
            self._owner[sid] = client
        try:
            session = Session(sid, Episode(seed), now + self.idle_s, client, self.idle_s)
        except BaseException:
            with self._lock:
                self._close(sid)
            raise
        with self._lock:
            if sid in self._sessions:  # not closed by a newer game meanwhile
                self._sessions[sid] = session
        return session

    def get(self, sid: str) -> Session:
        now = time.time()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(sid)
            if session is None:
                raise NotFound(
                    f"no such play session (it may have expired after {self._idle_text()} "
                    "idle, or a newer game replaced it); start a new game"
                )
            session.expires_at = now + self.idle_s
            return session

    def count(self, client: str | None = None) -> int:
        """Live sessions (of `client` only, when given)."""
        with self._lock:
            self._expire(time.time())
            return sum(1 for c in self._owner.values() if client is None or c == client)


def _sessions(request: Request) -> PlaySessions:
    svc: Services = request.app.state.services
    if svc.play is None:
        s = svc.settings
        svc.play = PlaySessions(
            s.play_max_sessions, s.play_idle_minutes * 60, s.play_max_per_client
        )
    return svc.play


def _client_id(request: Request, header: str | None) -> str:
    """The `X-Play-Client` id, or the client's address when the header is absent."""
    if header is None:
        return "addr:" + (request.client.host if request.client else "unknown")
    if not _CLIENT_ID.fullmatch(header):
        raise InvalidRequest("X-Play-Client must be 8-64 characters of A-Z a-z 0-9 _ -")
    return "id:" + header


@router.post(
    "/api/play",
    status_code=201,
    response_model=PlayState,
    operation_id="startPlay",
    responses=_ERRORS,
    summary="Start a play session on a seed (or a random one)",
)
async def start_play(
    request: Request,
    body: Annotated[PlayStart | None, Body()] = None,
    x_play_client: Annotated[
        str | None,
        Header(description="the client's id (8-64 of A-Za-z0-9_-); absent: its address"),
    ] = None,
) -> PlayState:
    seed = body.seed if body is not None and body.seed is not None else secrets.randbits(32)
    client = _client_id(request, x_play_client)
    sessions = _sessions(request)
    replace = body.replace if body is not None else None
    session = await asyncio.to_thread(sessions.create, seed, client, replace)
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
