"""`WS /ws/replay/{run_id}`: an episode played by a window's checkpoint, streamed step by step."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import stat
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from analytics_service import degraded, records, replayable, views
from analytics_service.episode import Episode
from analytics_service.errors import ApiError
from analytics_service.models import ReplayControl
from analytics_service.state import Services
from envjax.constants import N_ACTIONS, OBS_DIM, action_mask_from_obs

router = APIRouter()

CLOSE_NOT_FOUND = 4404
CLOSE_INVALID = 4422
CLOSE_BUSY = 1013  # "try again later"
CLOSE_UNSUPPORTED = 1003  # a binary frame: control messages are JSON text
CLOSE_TOO_BIG = 1009
MAX_PACE_MS = 5000
MAX_CONTROL_BYTES = 1024  # a control message is a few bytes: `{"pace_ms": 50}`
_UINT = re.compile(r"[0-9]{1,10}")

_policies: OrderedDict[tuple[str, int, int, int, bool], Any] = OrderedDict()
POLICIES = views.POLICIES
_policies_lock = threading.Lock()


MAX_REASON_BYTES = 123  # RFC 6455: a close frame's reason, in UTF-8 (a longer one is a
# protocol error: the server's close raises and the client sees 1006, not the code)


def _reason(text: str) -> str:
    """`text` cut to a close reason's `MAX_REASON_BYTES` on a character boundary (reasons
    may echo client text: a run id, an unknown field's name)."""
    return text.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore")


class _ReplayError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _int_param(params, name: str, lo: int, hi: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    # Digits only: int() would also take " 7", "+7", "7_000" and "٧" (strictly typed, as the
    # play bodies are).
    if not _UINT.fullmatch(raw):
        raise _ReplayError(CLOSE_INVALID, f"{name} must be a non-negative integer")
    value = int(raw)
    if not lo <= value <= hi:
        raise _ReplayError(CLOSE_INVALID, f"{name} must be in [{lo}, {hi}]")
    return value


def _params_bytes(config: dict) -> int | None:
    """float32 bytes of the network that `config` (run.json's) describes, or None when its
    `hidden`/`layers` are no positive integers (ppo.network.ActorCritic's shapes)."""
    hidden, layers = views.as_int(config.get("hidden")), views.as_int(config.get("layers"))
    if hidden is None or layers is None or hidden < 1 or layers < 1:
        return None
    obs, actions = OBS_DIM, N_ACTIONS
    trunk = obs * hidden + hidden + (layers - 1) * (hidden * hidden + hidden)
    return 4 * (trunk + hidden * actions + actions + hidden + 1)


def _load_policy(run_dir: Path, window_id: int, greedy: bool) -> Any:
    """The greedy or sampling policy of one checkpoint (a few kept in memory). The run's
    records and checkpoint are any bytes: each way they fail is a close code, never an
    exception or an unbounded allocation."""
    from ppo import policy  # lazily: loading JAX waits for the first replay

    params = run_dir / "checkpoints" / str(window_id) / "params.msgpack"
    try:
        config = records.read_run(run_dir).get("config")
        st = params.stat()
    except FileNotFoundError:
        raise _ReplayError(CLOSE_NOT_FOUND, f"no checkpoint for window {window_id}") from None
    except (OSError, ValueError) as exc:
        raise _unreadable(run_dir, window_id, exc) from None
    # The network is built from run.json's config before the checkpoint is read into it:
    # a config that does not match the file (hidden: 10**9) must not allocate without bound.
    if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block or read without end
        raise _unreadable(run_dir, window_id, OSError("params.msgpack is no regular file"))
    need = _params_bytes(config if isinstance(config, dict) else {})
    if need is None or need > 2 * st.st_size + 65536:
        raise _ReplayError(
            CLOSE_INVALID, f"checkpoint for window {window_id} does not match the run's config"
        )
    # (a resumed run rewrites a checkpoint: the file's own stamp is part of the key)
    key = (str(run_dir), window_id, st.st_mtime_ns, st.st_size, greedy)
    with _policies_lock:
        if key in _policies:
            _policies.move_to_end(key)
            return _policies[key]
    try:
        act = policy.load(run_dir, window_id, greedy=greedy)
    except FileNotFoundError:
        raise _ReplayError(CLOSE_NOT_FOUND, f"no checkpoint for window {window_id}") from None
    except Exception as exc:  # msgpack, flax, a config value of any type: all the file's fault
        raise _unreadable(run_dir, window_id, exc) from None
    with _policies_lock:
        _policies[key] = act
        while len(_policies) > 8:
            _policies.popitem(last=False)
    return act


def _unreadable(run_dir: Path, window_id: int | None, exc: BaseException) -> _ReplayError:
    what = "its records" if window_id is None else f"checkpoint {window_id} or its records"
    degraded.report(
        f"replay:{run_dir.name}:{window_id}",
        f"run {run_dir.name}: {what} unreadable ({type(exc).__name__}); "
        "replays of it close with 1011",
    )
    if window_id is None:
        return _ReplayError(1011, "the run's records cannot be read")
    return _ReplayError(1011, f"the checkpoint of window {window_id} cannot be read")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _prepare(runs_dir: Path, run_id: str, params) -> dict:
    """Validate the request and load what the replay needs (blocking)."""
    run_dir = records.run_dir(runs_dir, run_id)
    if run_dir is None:
        raise _ReplayError(CLOSE_NOT_FOUND, f"no run {run_id!r} in the local run records")
    iteration = _int_param(params, "iteration", 0, 1_000_000_000)
    seed = _int_param(params, "seed", 0, 2**32 - 1)
    pace = _int_param(params, "pace_ms", 0, MAX_PACE_MS)
    asked_policy = params.get("policy") or None
    if asked_policy is not None and asked_policy not in POLICIES:
        raise _ReplayError(CLOSE_INVALID, "policy must be sampled or greedy")
    try:
        meta = records.read_run(run_dir)
    except (OSError, ValueError):
        # run.json damaged (or mid-write): a replay of a named window needs it only for the
        # seed-base fallback; the default window cannot be found without it.
        if iteration is None:
            raise _ReplayError(
                1011, f"run {run_id!r}: records unreadable; pass iteration"
            ) from None
        meta = {}
    if iteration is None:
        iteration = views.as_int(meta.get("last_checkpoint"))  # any record value: int or null
        if iteration is None or iteration < 0:
            raise _ReplayError(CLOSE_NOT_FOUND, f"run {run_id!r} has no checkpoint yet")
    iteration = int(iteration)
    if not replayable.is_replayable(runs_dir, run_id, iteration):
        raise _ReplayError(
            CLOSE_NOT_FOUND, f"no checkpoint for window {iteration} (pruned?); see /replayable"
        )
    try:
        ev = records.read_eval(run_dir, iteration)
    except (OSError, ValueError):  # unparsable, or no regular file
        ev = None
    ev = ev if isinstance(ev, dict) else {}  # a damaged record: as if there were none
    policy = asked_policy or (ev.get("policy") if ev.get("policy") in POLICIES else "sampled")
    act = _load_policy(run_dir, iteration, greedy=policy == "greedy")
    if seed is None:
        seeds = views.replay_seeds(ev.get("replay_seeds"))
        if not seeds:
            raise _ReplayError(CLOSE_INVALID, f"window {iteration} has no replay seeds; pass seed")
        seed = seeds[0]
    # The evaluation's key base: the eval record's, else the run config's, else the default
    # (any record value: only a valid uint32 is used).
    bases = views.replay_seeds([_dict(ev.get("seeds")).get("base")])
    if not bases:
        bases = views.replay_seeds([_dict(meta.get("config")).get("eval_seed_base")])
    seed_base = bases[0] if bases else 1_000_000
    scored = None
    if policy == ev.get("policy") and _dict(ev.get("sample_key")).get("derivation") == _DERIVATION:
        scored = next((r for r in views.replays_from_record(ev) if r["seed"] == seed), None)
    label = f"{policy} policy, seed {seed}"
    if scored is not None and scored["return"] is not None:
        label += f", eval return {scored['return']:.1f}"
    return {
        "window_id": iteration,
        "seed": seed,
        "pace_ms": 100 if pace is None else pace,
        "act": act,
        "policy": policy,
        "seed_base": seed_base,
        "rank": scored["rank"] if scored else None,
        "eval_return": scored["return"] if scored else None,
        "label": label,
    }


_DERIVATION = "fold_in(fold_in(PRNGKey(seeds.base), seed), day)"


@functools.cache
def _key_fn(seed_base: int) -> Any:
    # The evaluation's per-episode key (ppo.evaluate.episode_step_key), jitted per base.
    import jax

    from ppo.evaluate import episode_step_key

    return jax.jit(lambda seed, t: episode_step_key(seed_base, seed, t))


def _policy_step(ep: Episode, plan: dict, t: int) -> tuple[int, float]:
    jnp = ep.e["jnp"]
    obs = ep.obs
    mask = jnp.asarray(action_mask_from_obs(obs))
    key = None
    if plan["policy"] == "sampled":
        key = _key_fn(plan["seed_base"])(jnp.uint32(plan["seed"]), jnp.uint32(t))
    action = int(plan["act"](obs, mask, key))
    reward, _ = ep.step(action)
    return action, reward


@router.websocket("/ws/replay/{run_id}")
async def replay(websocket: WebSocket, run_id: str) -> None:
    """See docs/API.md, "Replay websocket"."""
    svc: Services = websocket.app.state.services
    await websocket.accept()
    if svc.replay_streams >= svc.settings.replay_max_streams:
        await websocket.close(CLOSE_BUSY, "too many replays running; try again later")
        return
    svc.replay_streams += 1
    try:
        await _stream(websocket, svc, run_id)
    except WebSocketDisconnect:
        pass
    finally:
        svc.replay_streams -= 1


async def _stream(ws: WebSocket, svc: Services, run_id: str) -> None:
    try:
        plan = await asyncio.to_thread(_prepare, svc.settings.runs_dir, run_id, ws.query_params)
        episode = await asyncio.to_thread(Episode, plan["seed"])
    except _ReplayError as err:
        await ws.close(err.code, _reason(err.reason))
        return
    except ApiError as err:
        await ws.close(1011, _reason(err.message))
        return
    control = {"pace_ms": plan["pace_ms"], "paused": False}
    wake = asyncio.Event()
    reader = asyncio.create_task(_read_control(ws, control, wake))
    try:
        await _play(ws, run_id, plan, episode, control, wake, reader)
    finally:
        # The reader's outcome is always retrieved (no "exception never retrieved").
        if not reader.done():
            reader.cancel()
        outcome = (await asyncio.gather(reader, return_exceptions=True))[0]
    if isinstance(outcome, tuple):  # the client sent something that is no control message
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close(outcome[0], _reason(outcome[1]))


async def _read_control(ws: WebSocket, control: dict, wake: asyncio.Event) -> tuple | None:
    """Apply the client's control messages until it leaves (None) or sends a frame that is
    not one: a binary frame (1003), one over `MAX_CONTROL_BYTES` (1009), or text that is not
    a `ReplayControl` object (4422); then (close code, reason)."""
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return None
            text = msg.get("text")
            if text is None:
                return CLOSE_UNSUPPORTED, "binary frames are not accepted; send JSON text"
            if len(text.encode()) > MAX_CONTROL_BYTES:
                return CLOSE_TOO_BIG, f"a control message is at most {MAX_CONTROL_BYTES} bytes"
            try:
                ctl = ReplayControl.model_validate_json(text)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(map(str, err.get("loc", ()))) or "message"
                return CLOSE_INVALID, f"{where}: {err.get('msg', 'invalid')}"
            if ctl.pace_ms is not None:
                control["pace_ms"] = ctl.pace_ms
            if ctl.pause is not None:
                control["paused"] = ctl.pause
            wake.set()
    finally:
        wake.set()  # a paced or paused stream notices at once


async def _play(
    ws: WebSocket,
    run_id: str,
    plan: dict,
    episode: Episode,
    control: dict,
    wake: asyncio.Event,
    reader: asyncio.Task,
) -> None:
    await ws.send_json(
        {
            "type": "start",
            "run_id": run_id,
            "window_id": plan["window_id"],
            "seed": plan["seed"],
            "pace_ms": control["pace_ms"],
            "policy": plan["policy"],
            "rank": plan["rank"],
            "eval_return": plan["eval_return"],
            "label": plan["label"],
        }
    )
    t = 0
    while not episode.done:
        if reader.done():
            return  # the client went away, or sent a bad frame
        while control["paused"] and not reader.done():
            wake.clear()
            await wake.wait()
        if reader.done():
            return
        action, reward = await asyncio.to_thread(_policy_step, episode, plan, t)
        view = await asyncio.to_thread(episode.view)
        await ws.send_json(
            {
                "type": "step",
                "t": t,
                "action": {"action": action, "label": episode.label(action)},
                "reward": reward,
                "view": view,
            }
        )
        t += 1
        if control["pace_ms"]:
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), control["pace_ms"] / 1000)
    view = await asyncio.to_thread(episode.view)
    await ws.send_json({"type": "end", "episode": episode.metrics(view)})
    await ws.close(1000)
