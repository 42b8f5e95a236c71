"""Play sessions played to the end, and a replay streamed over a real websocket from a real
checkpoint of the tiny training run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets
from svc_contract import validate_response
from svc_env import REAL_RUN
from svc_server import running_service


def test_play__a_session_played_to_the_end(make_client) -> None:
    client = make_client(wandb=False)
    openapi = client.get("/openapi.json").json()
    r = client.post("/api/play", json={"seed": 123})
    assert r.status_code == 201, r.text
    state = r.json()
    validate_response(openapi, "POST", "/api/play", 201, state)
    sid = state["session_id"]
    assert state["seed"] == 123 and state["done"] is False and state["last_action"] is None
    assert state["view"]["day"] == 0 and state["view"]["valid_actions"]
    again = client.get(f"/api/play/{sid}").json()
    assert again["view"] == state["view"]
    steps = 0
    while not state["done"]:
        action = state["view"]["valid_actions"][-1]["action"] if steps % 7 == 3 else 0
        r = client.post(f"/api/play/{sid}/step", json={"action": action})
        assert r.status_code == 200, r.text
        state = r.json()
        steps += 1
        assert state["last_action"]["action"] == action
        assert state["last_action"]["label"]
        assert steps <= 400
    validate_response(openapi, "POST", "/api/play/{session_id}/step", 200, state)
    assert state["episode"]["survived"] in (True, False)
    assert state["episode"]["length"] == steps
    r = client.post(f"/api/play/{sid}/step", json={"action": 0})
    assert r.status_code == 409 and r.json()["error"]["code"] == "episode_finished"


def test_play__same_seed_same_game_and_bad_input(make_client) -> None:
    client = make_client(wandb=False, play_max_sessions=2)
    a = client.post("/api/play", json={"seed": 7}).json()
    b = client.post("/api/play", json={"seed": 7}).json()
    assert a["view"] == b["view"] and a["session_id"] != b["session_id"]
    r = client.post("/api/play", json={}, headers={"X-Play-Client": "another-client"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "session_limit"
    for bad in (-1, 69, 1000, "x", 1.5):
        r = client.post(f"/api/play/{a['session_id']}/step", json={"action": bad})
        assert r.status_code == 422, bad
    assert client.post("/api/play/nosuchsession0000/step", json={"action": 0}).status_code == 404
    assert client.get("/api/play/nosuchsession0000").status_code == 404
    assert client.post("/api/play", json={"seed": -5}).status_code == 422
    assert client.post("/api/play", json={"seed": 2**32}).status_code == 422


def test_play__sessions_expire_after_idle_minutes(make_client) -> None:
    import time

    client = make_client(wandb=False, play_idle_minutes=0.02, play_max_sessions=1)
    state = client.post("/api/play", json={"seed": 1}).json()
    assert state["idle_expiry_s"] == 1  # 0.02 min
    # The only slot frees when the idle session expires: another client's start succeeds
    # then (polling the session itself would keep it alive).
    deadline = time.monotonic() + 30
    other = {"X-Play-Client": "another-client"}
    while (r := client.post("/api/play", json={}, headers=other)).status_code == 503:
        assert time.monotonic() < deadline, "the idle session never expired"
    assert r.status_code == 201
    r = client.get(f"/api/play/{state['session_id']}")
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert "idle" in message and "start a new game" in message


async def _replay(url: str) -> tuple[list[dict], int | None, str | None]:
    messages = []
    async with websockets.connect(url, open_timeout=30, close_timeout=10) as ws:
        try:
            async for raw in ws:
                messages.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
    return messages, ws.close_code, ws.close_reason


def test_replay__streams_a_real_checkpoint_over_a_websocket(
    real_runs: Path, tmp_path: Path
) -> None:
    meta = json.loads((real_runs / REAL_RUN / "run.json").read_text())
    window = meta["last_checkpoint"]
    seeds = json.loads((real_runs / REAL_RUN / "eval" / f"{window}.json").read_text())[
        "replay_seeds"
    ]
    env = {"ANALYTICS_REPLAY_MAX_STREAMS": "2"}
    with running_service(real_runs, tmp_path / "cache", tmp_path / "svc.log", env) as base:
        ws_base = base.replace("http://", "ws://")
        url = f"{ws_base}/ws/replay/{REAL_RUN}?iteration={window}&pace_ms=0"
        msgs, code, _ = asyncio.run(_replay(url))
        assert code == 1000
        assert {k: msgs[0][k] for k in ("type", "run_id", "window_id", "seed", "pace_ms")} == {
            "type": "start",
            "run_id": REAL_RUN,
            "window_id": window,
            "seed": seeds[0],
            "pace_ms": 0,
        }
        steps = [m for m in msgs if m["type"] == "step"]
        assert steps and [m["t"] for m in steps] == list(range(len(steps)))
        assert all(m["action"]["label"] and "view" in m for m in steps)
        end = msgs[-1]
        assert end["type"] == "end" and end["episode"]["length"] == len(steps)
        assert end["episode"]["survived"] in (True, False)
        # deterministic: the same checkpoint and seed replay the same episode
        again, _, _ = asyncio.run(_replay(url))
        assert [m["action"] for m in again if m["type"] == "step"] == [m["action"] for m in steps]
        # bad run, iteration, seed: close codes with reasons
        for path, want in (
            ("/ws/replay/nosuchrun?pace_ms=0", 4404),
            (f"/ws/replay/{REAL_RUN}?iteration=999&pace_ms=0", 4404),
            (f"/ws/replay/{REAL_RUN}?seed=-1", 4422),
            (f"/ws/replay/{REAL_RUN}?pace_ms=99999", 4422),
            (f"/ws/replay/{REAL_RUN}?iteration=abc", 4422),
        ):
            msgs, code, reason = asyncio.run(_replay(ws_base + path))
            assert code == want, (path, code, reason)
            assert reason
        # pace, pause and the stream cap, on live streams
        asyncio.run(_pace_pause_and_cap(f"{ws_base}/ws/replay/{REAL_RUN}?iteration={window}"))


async def _pace_pause_and_cap(url: str) -> None:
    async with websockets.connect(url + "&pace_ms=5000", open_timeout=30) as a:
        assert json.loads(await a.recv())["type"] == "start"
        assert json.loads(await a.recv())["t"] == 0
        await a.send(json.dumps({"pause": True}))
        await asyncio.sleep(0.2)
        await a.send(json.dumps({"pace_ms": 0}))  # wakes the pacer, but paused: nothing comes
        try:
            msg = await asyncio.wait_for(a.recv(), 0.5)
            assert json.loads(msg)["t"] == 1  # at most the step that was in flight
            await asyncio.wait_for(a.recv(), 0.5)
            raise AssertionError("steps kept coming while paused")
        except TimeoutError:
            pass
        async with websockets.connect(url + "&pace_ms=5000", open_timeout=30) as b:
            assert json.loads(await b.recv())["type"] == "start"
            async with websockets.connect(url, open_timeout=30) as c:  # a third: over the cap
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(c.recv(), 10)
                assert c.close_code == 1013 and c.close_reason
        await a.send(json.dumps({"pause": False}))  # pace 0 now: the rest comes at once
        last = None
        async for raw in a:
            last = json.loads(raw)
        assert last["type"] == "end" and a.close_code == 1000
