"""Issue 14 item 3: play sessions per client: a new game replaces the previous one, a
per-client cap that closes the least recently used game, other clients untouched, and a
service-wide limit whose message says what to do. Real uvicorn on loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
from svc_server import running_service


def _start(base: str, client: str, **body) -> httpx.Response:
    return httpx.post(f"{base}/api/play", json=body, headers={"X-Play-Client": client}, timeout=120)


def test_play__new_games_replace_old_ones_per_client(tmp_path: Path) -> None:
    env = {"ANALYTICS_PLAY_MAX_SESSIONS": "4", "ANALYTICS_PLAY_MAX_PER_CLIENT": "2"}
    runs = tmp_path / "runs"
    runs.mkdir()
    with running_service(runs, tmp_path / "cache", tmp_path / "svc.log", env) as base:
        first = _start(base, "alice-browser-1", seed=1).json()
        assert first["idle_expiry_s"] == 600  # the default: 10 minutes idle
        # "Start game" again, naming the game it replaces: the old one is closed at once
        second = _start(base, "alice-browser-1", seed=2, replace=first["session_id"]).json()
        gone = httpx.get(f"{base}/api/play/{first['session_id']}")
        assert gone.status_code == 404 and "start a new game" in gone.json()["error"]["message"]
        # pressing it many times never runs out: the per-client cap closes the oldest game
        sids = [second["session_id"]]
        for seed in range(3, 9):
            r = _start(base, "alice-browser-1", seed=seed)
            assert r.status_code == 201, r.text
            sids.append(r.json()["session_id"])
        live = [s for s in sids if httpx.get(f"{base}/api/play/{s}").status_code == 200]
        assert live == sids[-2:]
        # the least recently *used* goes first: touch the older one, start another
        assert httpx.get(f"{base}/api/play/{sids[-2]}").status_code == 200
        newest = _start(base, "alice-browser-1", seed=9).json()["session_id"]
        assert httpx.get(f"{base}/api/play/{sids[-2]}").status_code == 200
        assert httpx.get(f"{base}/api/play/{sids[-1]}").status_code == 404
        # another client cannot close alice's game by naming it
        bob = _start(base, "bob-browser-22", seed=1, replace=newest)
        assert bob.status_code == 201
        assert httpx.get(f"{base}/api/play/{newest}").status_code == 200
        # service-wide limit (4): alice 2 + bob 1 + carol 1; dave gets a message saying what to do
        assert _start(base, "carol-browser-3").status_code == 201
        full = _start(base, "dave-browser-44")
        assert full.status_code == 503
        err = full.json()["error"]
        assert err["code"] == "session_limit" and "start a new game again in" in err["message"]
        assert err["retry_after_s"] >= 1 and full.headers["retry-after"]
        # ...while a client that has games can always replace one
        assert _start(base, "bob-browser-22", seed=5).status_code == 201
        bad = _start(base, "no")  # a malformed client id
        assert bad.status_code == 422 and "X-Play-Client" in bad.json()["error"]["message"]
        # the website on another origin may send the header (CORS preflight allows it)
        pre = httpx.options(
            f"{base}/api/play",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-play-client",
            },
        )
        assert pre.status_code == 200
        assert "x-play-client" in pre.headers["access-control-allow-headers"].lower()
