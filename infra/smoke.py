"""Post-deploy smoke checks: `python -m infra.smoke --web URL --api URL`.

Checks the website's pages, the service's health, the W&B proxy, CORS from the web origin
and from a foreign one, and a replay websocket handshake with its first message. Prints a
pass/fail table and exits non-zero on any failure, so it can gate a deploy or a rollback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.typing import Origin

PAGE_MARKERS = {
    "/": 'data-page="home"',
    "/play": 'data-page="play"',
    "/analytics": 'data-page="analytics"',
}
FOREIGN_ORIGIN = "https://smoke-check.invalid"


@dataclass(frozen=True)
class SmokeConfig:
    """What to check and how long to wait for each answer."""

    web: str
    api: str
    ws: str
    origin: str
    timeout_s: float
    replay_timeout_s: float
    replay_run: str | None


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class SmokeFailure(Exception):
    """A check's expectation did not hold; the message says which."""


def http(method: str, url: str, headers: dict[str, str] | None, timeout_s: float) -> Response:
    """One HTTP request; error statuses are returned, not raised."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return Response(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise SmokeFailure(message)


def check_page(cfg: SmokeConfig, path: str) -> str:
    resp = http("GET", cfg.web + path, None, cfg.timeout_s)
    _expect(resp.status == 200, f"status {resp.status}")
    marker = PAGE_MARKERS[path]
    _expect(marker in resp.body.decode("utf-8", "replace"), f"marker {marker} missing")
    return f"200, {marker}"


def check_health(cfg: SmokeConfig) -> str:
    resp = http("GET", cfg.api + "/api/health", None, cfg.timeout_s)
    _expect(resp.status == 200, f"status {resp.status}")
    body = resp.json()
    _expect(isinstance(body, dict) and body.get("status") == "ok", f"body {body!r:.120}")
    return f"ok, default source {body.get('default_source')}"


def check_wandb_proxy(cfg: SmokeConfig) -> str:
    resp = http("GET", cfg.api + "/api/wandb/runs?limit=1", None, cfg.timeout_s)
    if resp.status == 503:
        code = resp.json().get("error", {}).get("code")
        _expect(code == "not_configured", f"503 with code {code!r}")
        return "503 not_configured (W&B not set up on this backend)"
    _expect(resp.status == 200, f"status {resp.status}: {resp.body[:120]!r}")
    body = resp.json()
    _expect(isinstance(body, dict) and isinstance(body.get("runs"), list), "no runs list")
    return f"200, {len(body['runs'])} run(s), stale={body.get('stale')}"


def _preflight(cfg: SmokeConfig, origin: str) -> Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    return http("OPTIONS", cfg.api + "/api/health", headers, cfg.timeout_s)


def check_cors_allowed(cfg: SmokeConfig) -> str:
    resp = _preflight(cfg, cfg.origin)
    allowed = resp.headers.get("access-control-allow-origin")
    _expect(resp.status == 200, f"preflight status {resp.status}")
    _expect(allowed == cfg.origin, f"allow-origin {allowed!r}")
    return f"200, allow-origin {allowed}"


def check_cors_refused(cfg: SmokeConfig) -> str:
    resp = _preflight(cfg, FOREIGN_ORIGIN)
    allowed = resp.headers.get("access-control-allow-origin")
    _expect(allowed not in (FOREIGN_ORIGIN, "*"), f"foreign origin allowed ({allowed!r})")
    return f"refused (status {resp.status}, no allow-origin)"


def _replay_run_id(cfg: SmokeConfig) -> str:
    if cfg.replay_run:
        return cfg.replay_run
    health = http("GET", cfg.api + "/api/health", None, cfg.timeout_s).json()
    source = health.get("default_source", "local") if isinstance(health, dict) else "local"
    runs = http("GET", f"{cfg.api}/api/{source}/runs?limit=1", None, cfg.timeout_s)
    _expect(runs.status == 200, f"runs list status {runs.status}")
    items = runs.json().get("runs", [])
    _expect(bool(items), f"no run to replay in source {source}")
    return str(items[0]["run_id"])


async def _first_replay_messages(cfg: SmokeConfig, run_id: str) -> list[dict]:
    url = f"{cfg.ws}/ws/replay/{urllib.parse.quote(run_id, safe='')}?pace_ms=0"
    async with websockets.connect(
        url, origin=Origin(cfg.origin), open_timeout=cfg.timeout_s, close_timeout=1
    ) as ws:
        messages = []
        for _ in range(2):
            # A cold replay loads a checkpoint and compiles the policy before its first step.
            raw = await asyncio.wait_for(ws.recv(), timeout=cfg.replay_timeout_s)
            messages.append(json.loads(raw))
        return messages


def check_replay(cfg: SmokeConfig) -> str:
    run_id = _replay_run_id(cfg)
    first, second = asyncio.run(_first_replay_messages(cfg, run_id))
    _expect(first.get("type") == "start", f"first message {first!r:.120}")
    _expect(second.get("type") == "step" and "view" in second, f"second {second!r:.120}")
    return f"run {run_id}, window {first.get('window_id')}, start + first step"


def run_checks(cfg: SmokeConfig) -> list[CheckResult]:
    """Run every check; one failing check never stops the others."""
    checks: list[tuple[str, Callable[[], str]]] = [
        *[(f"web {path}", lambda p=path: check_page(cfg, p)) for path in PAGE_MARKERS],
        ("api /api/health", lambda: check_health(cfg)),
        ("api W&B proxy", lambda: check_wandb_proxy(cfg)),
        ("CORS from web origin", lambda: check_cors_allowed(cfg)),
        ("CORS from other origin", lambda: check_cors_refused(cfg)),
        ("replay websocket", lambda: check_replay(cfg)),
    ]
    results = []
    for name, fn in checks:
        start = time.monotonic()
        try:
            ok, detail = True, fn()
        except SmokeFailure as err:
            ok, detail = False, str(err)
        except Exception as err:  # network errors of every kind are a failed check
            ok, detail = False, f"{type(err).__name__}: {err}"
        results.append(CheckResult(name, ok, detail, time.monotonic() - start))
    return results


def format_table(results: list[CheckResult]) -> str:
    """Pass/fail table, one line per check."""
    width = max(len(r.name) for r in results)
    lines = [f"{'check':<{width}}  result  time    detail"]
    for r in results:
        lines.append(
            f"{r.name:<{width}}  {'PASS' if r.ok else 'FAIL':<6}  {r.seconds:5.2f}s  {r.detail}"
        )
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def _base_url(value: str, schemes: tuple[str, ...], flag: str) -> str:
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise SystemExit(f"{flag} must be an absolute {'/'.join(schemes)} URL, got {value!r}")
    return value.rstrip("/")


def parse_args(argv: list[str] | None = None) -> SmokeConfig:
    """Parse the command line into a SmokeConfig, rejecting malformed URLs."""
    parser = argparse.ArgumentParser(prog="python -m infra.smoke", description=__doc__)
    parser.add_argument(
        "--web", required=True, help="website base URL, e.g. https://caravan.vercel.app"
    )
    parser.add_argument(
        "--api", required=True, help="service base URL, e.g. https://caravan-api.fly.dev"
    )
    parser.add_argument("--ws", help="websocket base URL (default: --api with ws/wss scheme)")
    parser.add_argument("--origin", help="origin the browser sends (default: origin of --web)")
    parser.add_argument("--replay-run", help="run id to replay (default: latest run)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument(
        "--replay-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for each of the replay's first messages",
    )
    args = parser.parse_args(argv)
    web = _base_url(args.web, ("http", "https"), "--web")
    api = _base_url(args.api, ("http", "https"), "--api")
    ws = _base_url(args.ws, ("ws", "wss"), "--ws") if args.ws else ("ws" + api[len("http") :])
    web_parts = urllib.parse.urlparse(web)
    origin = args.origin or f"{web_parts.scheme}://{web_parts.netloc}"
    if args.timeout <= 0 or args.replay_timeout <= 0:
        raise SystemExit("--timeout and --replay-timeout must be positive")
    return SmokeConfig(web, api, ws, origin, args.timeout, args.replay_timeout, args.replay_run)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    cfg = parse_args(argv)
    results = run_checks(cfg)
    print(format_table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
