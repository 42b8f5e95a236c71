"""The production build of the site and the service started exactly as the image starts it,
on loopback with production-like settings; `python -m infra.smoke` must pass against them."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import free_port, start, stop, train_tiny, wait_http

from infra.dockerfile import image_facts, with_flag

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
NEXT_BIN = WEB / "node_modules" / "next" / "dist" / "bin" / "next"
RUN_ID = "deploysmoke"
# Settings the image gets from the environment in production, with loopback stand-ins.
IMAGE_ONLY = {"PATH", "HOME"}


def _production_build(tmp: Path) -> None:
    """Reuse the site's production build when the web tests made one; else build it."""
    if (WEB / ".next" / "BUILD_ID").is_file():
        return
    assert NEXT_BIN.is_file(), "web/node_modules missing: run `make web-install`"
    env = {
        **os.environ,
        "NEXT_TELEMETRY_DISABLED": "1",
        "NEXT_PUBLIC_BACKEND_HTTP_BASE": "http://127.0.0.1:8080",
        "NEXT_PUBLIC_BACKEND_WS_BASE": "ws://127.0.0.1:8080",
    }
    proc = subprocess.run(
        ["node", str(NEXT_BIN), "build"],
        cwd=WEB,
        env=env,
        timeout=900,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(web base URL, api base URL) of the production-like pair, stopped afterwards."""
    tmp = tmp_path_factory.mktemp("deploy")
    data = tmp / "data"
    train_tiny(data / "runs", RUN_ID, "--total-steps", "512", "--eval-episodes", "4")
    _production_build(tmp)
    web_port, api_port = free_port(), free_port()
    web_base, api_base = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{api_port}"

    facts = image_facts()
    cmd = with_flag(with_flag(facts.cmd, "--host", "127.0.0.1"), "--port", str(api_port))
    cmd = with_flag(cmd, "--runs-dir", str(data / "runs"))
    assert cmd[0] == "python"
    env = {k: v.replace("/data", str(data)) for k, v in facts.env.items() if k not in IMAGE_ONLY}
    env |= {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp / "home"),
        "ALLOWED_ORIGINS": web_base,  # the site's origin, as in production
        "WANDB_DIR": str(tmp / "wandb"),
        "WANDB_CACHE_DIR": str(tmp / "wandb-cache"),
        "WANDB_CONFIG_DIR": str(tmp / "wandb-config"),
    }
    api = start([sys.executable, *cmd[1:]], ROOT, env, tmp / "api.log")
    web = start(
        ["node", str(NEXT_BIN), "start", "-H", "127.0.0.1", "-p", str(web_port)],
        WEB,
        {**os.environ, "NEXT_TELEMETRY_DISABLED": "1"},
        tmp / "web.log",
    )
    try:
        wait_http(api_base + "/api/health", api, tmp / "api.log", 120)
        wait_http(web_base + "/", web, tmp / "web.log", 120)
        yield web_base, api_base
    finally:
        stop(web)
        stop(api)


def _smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_smoke__passes_against_production_like_servers(deployed: tuple[str, str]) -> None:
    web, api = deployed
    proc = _smoke("--web", web, "--api", api)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8 passed, 0 failed" in proc.stdout
    assert "503 not_configured" in proc.stdout  # no W&B key on this backend


def test_smoke__fails_when_the_api_is_down(deployed: tuple[str, str]) -> None:
    web, _ = deployed
    proc = _smoke("--web", web, "--api", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "api /api/health" in proc.stdout


def test_smoke__rejects_malformed_urls() -> None:
    proc = _smoke("--web", "caravan.example", "--api", "http://127.0.0.1:1")
    assert proc.returncode != 0 and "--web must be an absolute" in proc.stderr


def test_service__refuses_a_disallowed_origin(deployed: tuple[str, str]) -> None:
    web, api = deployed
    for origin, allowed in ((web, True), ("https://attacker.example", False)):
        req = urllib.request.Request(api + "/api/health", headers={"Origin": origin})
        with urllib.request.urlopen(req, timeout=10) as resp:
            header = resp.headers.get("access-control-allow-origin")
        assert (header == origin) is allowed, (origin, header)
