"""Every play and replay request field is strictly typed: a string, float or boolean where
an integer belongs is refused with a message naming the field, never coerced; a replay
client's frame that is no control message closes the socket with a documented code, and
leaves no unretrieved exception behind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets
from fastapi.testclient import TestClient
from svc_env import REAL_RUN
from svc_server import running_service

from analytics_service.app import create_app
from analytics_service.settings import Settings


@pytest.fixture
def play_client(tmp_path: Path):
    settings = Settings(
        _env_file=None,
        runs_dir=tmp_path / "runs",
        cache_dir=tmp_path / "cache",
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
        warm_runs=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "field", "got"),
    [
        ({"action": "1"}, "action", "string"),
        ({"action": 1.0}, "action", "number"),
        ({"action": True}, "action", "boolean"),
        ({"action": None}, "action", "null"),
        ({"action": [1]}, "action", "array"),
        ({}, "action", None),
        ({"action": 1, "extra": 2}, "extra", None),
    ],
)
def test_play_step__a_field_of_the_wrong_type_is_422_naming_it(
    play_client: TestClient, body: dict, field: str, got: str | None
) -> None:
    sid = play_client.post("/api/play", json={"seed": 3}).json()["session_id"]
    r = play_client.post(f"/api/play/{sid}/step", json=body)
    assert r.status_code == 422, body
    message = r.json()["error"]["message"]
    assert message.startswith(f"{field}:"), message
    if got is not None:
        assert f"(got {got})" in message
    # the session is untouched: a well-typed step still plays day 0
    ok = play_client.post(f"/api/play/{sid}/step", json={"action": 0})
    assert ok.status_code == 200 and ok.json()["last_action"]["action"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seed": "5"}, "seed"),
        ({"seed": 5.0}, "seed"),
        ({"seed": True}, "seed"),
        ({"replace": 5}, "replace"),
        ({"seed": 1, "sead": 2}, "sead"),
    ],
)
def test_play_start__a_field_of_the_wrong_type_is_422_naming_it(
    play_client: TestClient, body: dict, field: str
) -> None:
    r = play_client.post("/api/play", json=body)
    assert r.status_code == 422, body
    assert r.json()["error"]["message"].startswith(f"{field}:")
    assert play_client.post("/api/play", json={"seed": 5}).json()["seed"] == 5


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b"not json", "application/json", "body: not valid JSON"),
        (b"\xff\xfe", "application/json", "body: not valid JSON"),
        (b'{"seed": 1', "application/json", "body: not valid JSON"),
        (b'{"seed": 1}', "text/plain", "body: Input should be a valid dictionary"),
        (b"[1, 2]", "application/json", "body: Input should be a valid dictionary"),
    ],
)
def test_play_start__a_body_that_is_no_json_object_says_so(
    play_client: TestClient, content: bytes, content_type: str, says: str
) -> None:
    r = play_client.post("/api/play", content=content, headers={"Content-Type": content_type})
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert message.startswith(says), message
    if content_type == "text/plain":
        assert "Content-Type: application/json" in message and "(got object)" not in message
    if says.startswith("body: Input") and content_type != "text/plain":
        assert message.endswith("(got array)"), message


async def _send_and_close(url: str, frame: str | bytes) -> tuple[int | None, str]:
    async with websockets.connect(url, open_timeout=30, close_timeout=10) as ws:
        assert json.loads(await ws.recv())["type"] == "start"
        await ws.send(frame)
        try:
            while True:  # steps may still come (pace 5 s: at most one) until the close
                await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            pass
    return ws.close_code, ws.close_reason


def test_replay__a_frame_that_is_no_control_message_closes_with_its_code(
    real_runs: Path, tmp_path: Path
) -> None:
    window = json.loads((real_runs / REAL_RUN / "run.json").read_text())["last_checkpoint"]
    log = tmp_path / "svc.log"
    env = {"ANALYTICS_REPLAY_MAX_STREAMS": "4", "ANALYTICS_WARM_RUNS": "0"}
    with running_service(real_runs, tmp_path / "cache", log, env) as base:
        ws_base = base.replace("http://", "ws://") + f"/ws/replay/{REAL_RUN}"
        url = f"{ws_base}?iteration={window}&pace_ms=5000"
        for frame, code, says in (
            (b"\x00\x01binary", 1003, "binary"),
            ("x" * 2000, 1009, "1024 bytes"),
            ("not json", 4422, "JSON"),
            ("[1, 2]", 4422, ""),
            ('{"pace_ms": "50"}', 4422, "pace_ms"),
            ('{"pace_ms": true}', 4422, "pace_ms"),
            ('{"pace_ms": 99999}', 4422, "pace_ms"),
            ('{"pause": 1}', 4422, "pause"),
            ('{"bogus": 1}', 4422, "bogus"),
            # a reason echoing a long non-ASCII field name: cut to the 123 bytes a close
            # frame may carry (a longer one was a protocol error, seen as 1006)
            ('{"' + "é" * 200 + '": 1}', 4422, "éé"),
        ):
            got, reason = asyncio.run(_send_and_close(url, frame))
            assert (got, says in reason) == (code, True), (frame[:20], got, reason)
        # strictly typed query parameters too (int() would take these)
        for query in ("iteration=+1", "seed=%205", "seed=1_000", "pace_ms=1e3"):
            got, reason = asyncio.run(_closed_at_once(f"{ws_base}?{query}"))
            assert got == 4422 and "integer" in reason, (query, got, reason)
        # a good control message still works on a live stream
        asyncio.run(_pace_to_end(url))
    text = log.read_text()
    assert "never retrieved" not in text and "Traceback" not in text, text[-2000:]


async def _closed_at_once(url: str) -> tuple[int | None, str]:
    async with websockets.connect(url, open_timeout=30) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)
    return ws.close_code, ws.close_reason


async def _pace_to_end(url: str) -> None:
    async with websockets.connect(url, open_timeout=30) as ws:
        assert json.loads(await ws.recv())["type"] == "start"
        await ws.send(json.dumps({"pace_ms": 0, "pause": False}))
        last = None
        async for raw in ws:
            last = json.loads(raw)
    assert last is not None and last["type"] == "end" and ws.close_code == 1000


def test_replay__a_close_reason_echoing_client_text_fits_a_close_frame(tmp_path: Path) -> None:
    from urllib.parse import quote

    log = tmp_path / "svc.log"
    env = {"ANALYTICS_WARM_RUNS": "0"}
    with running_service(tmp_path / "runs", tmp_path / "cache", log, env) as base:
        ws_base = base.replace("http://", "ws://") + "/ws/replay/"
        for run_id in ("é" * 80, "x" * 300, "日本" * 50):
            got, reason = asyncio.run(_closed_at_once(ws_base + quote(run_id)))
            assert got == 4404 and reason.startswith("no run"), (run_id[:5], got, reason)
            assert len(reason.encode()) <= 123
    text = log.read_text()
    assert "Traceback" not in text and "ProtocolError" not in text, text[-2000:]
