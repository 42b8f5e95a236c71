"""Per-client rate limit and CORS for configured origins only."""

from __future__ import annotations

from analytics_service.ratelimit import TokenBuckets


def test_ratelimit__bucket_refills_at_its_rate() -> None:
    b = TokenBuckets(rate=2.0, burst=3)
    assert [b.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("a", now=0.0) == 0.5
    assert b.take("b", now=0.0) == 0.0  # per client
    assert b.take("a", now=0.6) == 0.0


def test_ratelimit__over_the_rate_is_429_with_retry_after(make_client) -> None:
    client = make_client(wandb=False, rate_limit_per_s=0.5, rate_limit_burst=3)
    codes = [client.get("/api/local/runs").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200]
    r = client.get("/api/local/runs")
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["retry_after_s"] == int(r.headers["Retry-After"])
    # the OpenAPI document and docs are not rate limited
    assert client.get("/openapi.json").status_code == 200


def test_cors__configured_origin_only(make_client) -> None:
    client = make_client(wandb=False, allowed_origins=["http://localhost:3000"])
    for _ in range(2):  # the second answer comes from the fast path: same CORS headers
        ok = client.get("/api/local/runs", headers={"Origin": "http://localhost:3000"})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    bad = client.get("/api/local/runs", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in bad.headers
    pre = client.options(
        "/api/play",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 200
    assert "POST" in pre.headers["access-control-allow-methods"]
    pre_bad = client.options(
        "/api/play",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre_bad.status_code == 400


def test_cors__rate_limited_answers_carry_cors_headers(make_client) -> None:
    client = make_client(wandb=False, rate_limit_per_s=0.1, rate_limit_burst=1)
    h = {"Origin": "http://localhost:3000"}
    client.get("/api/local/runs", headers=h)
    r = client.get("/api/local/runs", headers=h)
    assert r.status_code == 429
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "Retry-After" in r.headers["access-control-expose-headers"]


def test_settings__origins_from_a_comma_list(monkeypatch) -> None:
    from analytics_service.settings import Settings

    monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    assert Settings(_env_file=None).allowed_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("ALLOWED_ORIGINS", "")
    assert Settings(_env_file=None).allowed_origins == []


def test_ratelimit__websocket_over_the_rate_is_closed_4429(make_client) -> None:
    import pytest
    from starlette.websockets import WebSocketDisconnect

    client = make_client(wandb=False, rate_limit_per_s=0.1, rate_limit_burst=1)
    client.get("/api/local/runs")  # spends the only token
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws/replay/anything") as ws,
    ):
        ws.receive_text()
    assert info.value.code == 4429 and "retry after" in info.value.reason


def test_cors__origin_regex_for_preview_deployments(make_client) -> None:
    client = make_client(
        wandb=False,
        allowed_origins=[],
        allowed_origin_regex=r"^https://caravan-[a-z0-9-]+\.vercel\.app$",
    )
    ok = client.get("/api/local/runs", headers={"Origin": "https://caravan-pr-12.vercel.app"})
    assert ok.headers["access-control-allow-origin"] == "https://caravan-pr-12.vercel.app"
    bad = client.get("/api/local/runs", headers={"Origin": "https://caravan-x.vercel.app.evil"})
    assert "access-control-allow-origin" not in bad.headers
