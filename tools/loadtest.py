"""Loopback load test of cached endpoints: N concurrent clients, p50/p99 latency, errors.

    python -m tools.loadtest --runs-dir runs --clients 50 --requests 5000

Without `--base-url` it starts its own stub W&B (from `--runs-dir`) and a real uvicorn
service on 127.0.0.1 (rate limit lifted, since every client shares one address), warms
the cache, then measures. Bounded in count (`--requests`) and time (`--max-seconds`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx


def endpoints(run_id: str) -> list[str]:
    """The cached W&B-backed endpoints the website polls (and their local twins)."""
    out = []
    for source in ("wandb", "local"):
        out += [
            f"/api/{source}/runs?limit=10",
            f"/api/{source}/runs/{run_id}/summary",
            f"/api/{source}/runs/{run_id}/history",
            f"/api/{source}/runs/{run_id}/iterations?limit=10",
            f"/api/{source}/runs/{run_id}/iterations/0",
        ]
    return out


class _Conn:
    """A minimal keep-alive HTTP/1.1 client connection: the load generator must cost far
    less than the server it measures (httpx costs about as much as the service itself)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        # Like a browser, accept gzip (large bodies are served pre-compressed).
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length)
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def run_load(
    base: str, urls: list[str], *, clients: int, requests: int, max_seconds: float
) -> dict:
    """Fire `requests` GETs from `clients` concurrent connections (closed loop, no think
    time: each client sends its next request as soon as the last one is answered)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(requests))
    deadline = time.monotonic() + max_seconds
    parsed = httpx.URL(base)
    host, port = parsed.host, parsed.port or 80
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for url in urls:  # warm the cache
            r = await client.get(url)
            if r.status_code != 200:
                raise RuntimeError(f"warm-up {url}: {r.status_code} {r.text[:200]}")

    async def worker(k: int) -> None:
        conn = _Conn(host, port)
        try:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                url = urls[(i + k) % len(urls)]
                t0 = time.perf_counter()
                try:
                    status, body = await conn.get(url)
                    if body[:2] == b"\x1f\x8b":  # the envelope leads: inflate a prefix only
                        body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 256)
                    ok = status == 200 and b'"stale":false' in body
                    key = None if ok else f"HTTP {status}"
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    key = type(exc).__name__
                    await conn.close()
                    conn = _Conn(host, port)
                latencies.append((time.perf_counter() - t0) * 1000)
                if key:
                    errors[key] = errors.get(key, 0) + 1
        finally:
            await conn.close()

    t_start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    wall = time.perf_counter() - t_start
    latencies.sort()
    n = len(latencies)
    return {
        "clients": clients,
        "requests": n,
        "wall_s": round(wall, 2),
        "rps": round(n / wall, 1) if wall else None,
        "p50_ms": round(statistics.median(latencies), 2) if n else None,
        "p99_ms": round(latencies[min(n - 1, int(n * 0.99))], 2) if n else None,
        "max_ms": round(latencies[-1], 2) if n else None,
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


@contextlib.contextmanager
def own_service(runs_dir: Path) -> Iterator[str]:
    """A stub W&B and a real uvicorn service on loopback, in temp dirs."""
    from tools.wandb_stub import StubWandb, load_runs

    key = "loadtestKey_" + "x" * 40
    stub = StubWandb(load_runs(runs_dir), api_key=key).start()
    tmp = Path(tempfile.mkdtemp(prefix="caravan-load-"))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "WANDB_API_KEY": key,
        "WANDB_ENTITY": stub.entity,
        "WANDB_PROJECT": stub.project,
        "WANDB_BASE_URL": stub.url,
        "ANALYTICS_CACHE_DIR": str(tmp / "cache"),
        "ANALYTICS_RATE_LIMIT_PER_S": "1000000",
        "ANALYTICS_RATE_LIMIT_BURST": "1000000",
        "HOME": str(tmp),
        "WANDB_CONFIG_DIR": str(tmp / "wandb"),
        "WANDB_CACHE_DIR": str(tmp / "wandb"),
        "WANDB_DIR": str(tmp / "wandb"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "analytics_service",
            "--port",
            str(port),
            "--runs-dir",
            str(runs_dir),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"service exited with {proc.returncode}")
            try:
                if httpx.get(base + "/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("service did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        stub.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", default=None, help="a running service (default: start one)")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--run-id", default=None, help="run to query (default: the newest)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--local-only", action="store_true", help="only /api/local endpoints")
    args = ap.parse_args(argv)
    run_id = args.run_id
    if run_id is None:
        from analytics_service.records import list_run_ids, read_run

        ids = sorted(
            list_run_ids(args.runs_dir),
            key=lambda r: read_run(args.runs_dir / r).get("created_at", ""),
        )
        if not ids:
            sys.exit(f"no runs under {args.runs_dir}")
        run_id = ids[-1]
    urls = endpoints(run_id)
    if args.local_only:
        urls = [u for u in urls if u.startswith("/api/local")]
    ctx = contextlib.nullcontext(args.base_url) if args.base_url else own_service(args.runs_dir)
    with ctx as base:
        print(
            f"load test: {args.clients} clients, {args.requests} requests on {base} "
            f"({len(urls)} endpoints, run {run_id})",
            flush=True,
        )
        result = asyncio.run(
            run_load(
                base,
                urls,
                clients=args.clients,
                requests=args.requests,
                max_seconds=args.max_seconds,
            )
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
