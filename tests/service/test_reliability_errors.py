"""Issue 13 row 4: error answers go through the same middleware as good ones: CORS headers,
a request id and the rate-limit headers on every answer, the service's JSON error model on
every error, including an exception no handler expected."""

from __future__ import annotations

import json

import httpx
import pytest
from svc_env import API_KEY, REAL_RUN
from svc_records import write_run
from svc_server import running_service

ORIGIN = "http://localhost:3000"


def _boom_route(client) -> None:
    # A handler that fails in a way no handler expects: the kind of the 500.
    async def boom() -> None:
        raise RuntimeError(f"bug in a handler (key {API_KEY} must not leak)")

    client.app.add_api_route("/api/boom", boom, methods=["GET"])


def _check_headers(r: httpx.Response, what: str) -> None:
    assert r.headers.get("access-control-allow-origin") == ORIGIN, (what, dict(r.headers))
    assert r.headers.get("x-request-id"), what
    expose = r.headers.get("access-control-expose-headers", "")
    assert "X-Request-ID" in expose and "Retry-After" in expose, what


def test_errors__every_answer_has_cors_request_id_and_limits(make_client) -> None:
    client = make_client(wandb=False, rate_limit_per_s=0.01, rate_limit_burst=8)
    _boom_route(client)
    h = {"Origin": ORIGIN}
    cases = [
        ("ok", "/api/local/runs", 200, None),
        ("500", "/api/boom", 500, "internal_error"),
        ("404 route", "/api/nothing-here", 404, "not_found"),
        ("404 run", "/api/local/runs/nope/summary", 404, "not_found"),
        ("422", "/api/local/runs?limit=0", 422, "invalid_request"),
        ("503", "/api/wandb/runs", 503, "not_configured"),
    ]
    for what, url, status, code in cases:
        r = client.get(url, headers=h)
        assert r.status_code == status, (what, r.text)
        _check_headers(r, what)
        assert int(r.headers["ratelimit-limit"]) == 8, what
        assert int(r.headers["ratelimit-remaining"]) >= 0, what
        if code is not None:
            assert r.json()["error"]["code"] == code, what
    boom = client.get("/api/boom", headers=h)
    assert API_KEY not in boom.text and "Traceback" not in boom.text
    assert boom.headers["x-request-id"] in boom.json()["error"]["message"]
    r = client.post("/api/local/runs", headers=h)
    assert r.status_code == 405
    _check_headers(r, "405")
    while (r := client.get("/api/local/runs", headers=h)).status_code != 429:
        assert int(r.headers["ratelimit-remaining"]) >= 0
    _check_headers(r, "429")
    assert r.headers["ratelimit-remaining"] == "0" and int(r.headers["retry-after"]) >= 1


def test_errors__a_sane_request_id_is_kept_else_replaced(make_client) -> None:
    client = make_client(wandb=False)
    r = client.get("/api/local/nope", headers={"X-Request-ID": "abc-123.x"})
    assert r.headers["x-request-id"] == "abc-123.x"
    r = client.get("/api/local/runs", headers={"X-Request-ID": "bad id\twith\nstuff"})
    assert r.headers["x-request-id"] != "bad id\twith\nstuff"
    assert len(r.headers["x-request-id"]) == 32
    a, b = (client.get("/api/local/runs").headers["x-request-id"] for _ in range(2))
    assert a != b


def test_errors__real_server_500_is_readable_by_the_site(tmp_path) -> None:
    """The issue's case end to end: a record the response model once refused, with an
    Origin, on a real server: 200 with CORS; an unreadable record: a JSON error with CORS."""
    runs = tmp_path / "runs"
    path = write_run(runs, "inf", windows=2)
    meta = json.loads((path / "run.json").read_text())
    meta["config"]["total_steps"] = float("inf")  # written as Infinity
    (path / "run.json").write_text(json.dumps(meta))
    broken = write_run(runs, "broken", windows=2)
    (broken / "windows.jsonl").write_text("{nope\n" + (broken / "windows.jsonl").read_text())
    with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", {}) as base:
        r = httpx.get(f"{base}/api/local/runs/inf/summary", headers={"Origin": ORIGIN})
        assert r.status_code == 200, r.text
        assert r.json()["run"]["config"]["total_steps"] is None
        _check_headers(r, "200")
        for _ in range(3):
            r = httpx.get(f"{base}/api/local/runs/broken/history", headers={"Origin": ORIGIN})
            assert r.status_code == 502
            assert r.json()["error"]["message"] == "the run's records are unreadable"
            _check_headers(r, "502")
        listed = httpx.get(f"{base}/api/local/runs", timeout=30).json()["runs"]
        assert [x["run_id"] for x in listed] == ["inf"]
    # one log line for the condition, saying what was done, however many requests
    log = (tmp_path / "svc.log").read_text()
    assert log.count("run broken: records unreadable") == 1, log
    assert "answering 502" in log


@pytest.mark.parametrize("path", ["/ws/replay/nope", "/ws/replay/bad%20id"])
def test_errors__websocket_refusals_say_why(make_client, path: str) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = make_client(wandb=False)
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(path) as ws:
        ws.receive_text()
    assert info.value.code in (4404, 4422) and info.value.reason


def test_errors__a_failing_wandb_is_one_log_line_not_one_per_request(
    make_client, stub, caplog
) -> None:
    client = make_client()
    caplog.set_level("WARNING", logger="analytics_service")
    # a good answer first: whatever an earlier test left reported is over
    assert client.get(f"/api/wandb/runs/{REAL_RUN}/summary").status_code == 200
    caplog.clear()
    stub.set_fault("server_error")
    for _ in range(4):
        assert client.get("/api/wandb/runs").status_code == 502
    stub.set_fault(None)
    assert client.get("/api/wandb/runs").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "analytics_service"]
    assert sum(line.startswith("W&B failing (upstream_error)") for line in lines) == 1, lines
    assert sum(line == "W&B answers again" for line in lines) == 1, lines
    assert all(API_KEY not in line for line in lines)
