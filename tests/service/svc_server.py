"""Start `python -m analytics_service` as a real uvicorn process on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_service(
    runs_dir: Path,
    cache_dir: Path,
    log_path: Path,
    env: dict[str, str],
    *,
    log_level: str = "info",
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[str]:
    """Yield the base URL of a live service; its stdout+stderr go to `log_path`
    (`preexec_fn` runs in the child before exec, e.g. to set resource limits).

    Another process (other tests run at the same time) may take the free port between
    finding it and binding it: then a new port is tried, up to three times."""
    for attempt in range(3):
        stack = contextlib.ExitStack()
        try:
            base = stack.enter_context(
                _running_service_once(
                    runs_dir, cache_dir, log_path, env, log_level=log_level, preexec_fn=preexec_fn
                )
            )
        except RuntimeError as exc:
            if "address already in use" not in str(exc) or attempt == 2:
                raise
            continue
        with stack:
            yield base
        return


@contextlib.contextmanager
def _running_service_once(
    runs_dir: Path,
    cache_dir: Path,
    log_path: Path,
    env: dict[str, str],
    *,
    log_level: str,
    preexec_fn: Callable[[], None] | None,
) -> Iterator[str]:
    port = free_port()
    full_env = {**os.environ, **env, "ANALYTICS_CACHE_DIR": str(cache_dir)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analytics_service",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--runs-dir",
                str(runs_dir),
                "--log-level",
                log_level,
            ],
            cwd=REPO,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"service exited: {log_path.read_text()}")
                try:
                    if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("service did not start within 60 s")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
