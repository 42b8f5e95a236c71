"""A loopback shim between the wandb client and W&B that makes failures visible and fast.

The wandb 0.31 client sends GraphQL through its `wandb-core` helper, which retries 429 and
5xx answers with backoff (sleeping for an uncapped `Retry-After`) and then reports only
"giving up after N attempt(s)". A service that must answer within a few seconds, and tell
a rate limit (429 + Retry-After) from an outage (502) or a timeout (504), needs more. So
the client's `base_url` is this shim on 127.0.0.1; it forwards each request to the real
W&B URL and passes good answers through unchanged. A failed answer becomes a 400 (which the
client does not retry) whose GraphQL error message carries a marker that
`parse_marker` reads back:

    caravan-upstream kind=rate_limited status=429 retry_after=7
    caravan-upstream kind=timeout
    caravan-upstream kind=unreachable
    caravan-upstream kind=bad_status status=503
    caravan-upstream kind=auth status=401
    caravan-upstream kind=malformed

Nothing here logs headers or bodies, so the API key never reaches a log line.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

MARKER = "caravan-upstream"
_MARKER_RE = re.compile(MARKER + r" kind=(\w+)(?: status=(\d+))?(?: retry_after=(\d+))?")
_HOP = {
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "transfer-encoding",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
}


@dataclass(frozen=True)
class UpstreamFailure:
    """What went wrong upstream, read back from an exception message."""

    kind: str  # rate_limited, timeout, unreachable, bad_status, auth, malformed
    status: int | None
    retry_after_s: int | None


def parse_marker(message: str) -> UpstreamFailure | None:
    """The shim's marker in an exception message, if any."""
    m = _MARKER_RE.search(message)
    if not m:
        return None
    return UpstreamFailure(
        kind=m.group(1),
        status=int(m.group(2)) if m.group(2) else None,
        retry_after_s=int(m.group(3)) if m.group(3) else None,
    )


def _retry_after(headers: httpx.Headers) -> int | None:
    for name in ("Retry-After", "RateLimit-Reset"):
        value = headers.get(name)
        if value:
            try:
                return max(1, round(float(value)))
            except ValueError:
                continue  # an HTTP date: fall back to the service's default
    return None


class WandbShim:
    """The forwarding shim; `start()` binds a free loopback port."""

    def __init__(self, upstream: str, *, timeout_s: float) -> None:
        self.upstream = upstream.rstrip("/")
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            follow_redirects=False,
        )
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> WandbShim:
        shim = self

        class Handler(_ShimHandler):
            owner = shim

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="wandb-shim").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._client.close()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Forward one request; failures become a 400 carrying the marker."""
        try:
            resp = self._client.request(method, self.upstream + path, headers=headers, content=body)
        except httpx.TimeoutException:
            return _failure("kind=timeout")
        except httpx.HTTPError:
            return _failure("kind=unreachable")
        status = resp.status_code
        if status == 429:
            ra = _retry_after(resp.headers)
            return _failure("kind=rate_limited status=429" + (f" retry_after={ra}" if ra else ""))
        if status in (401, 403):
            return _failure(f"kind=auth status={status}")
        if status >= 500 or (status >= 300 and status != 400 and status != 404):
            return _failure(f"kind=bad_status status={status}")
        content = resp.content
        if path.startswith("/graphql"):
            try:
                json.loads(content)
            except ValueError:
                return _failure("kind=malformed")
        # httpx has decoded the body already: drop the encoding header with the hop-by-hop ones.
        out_headers = {
            k: v
            for k, v in resp.headers.items()
            if k.lower() not in _HOP and k.lower() != "content-encoding"
        }
        return status, out_headers, content


def _failure(detail: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"errors": [{"message": f"{MARKER} {detail}"}]}).encode()
    return 400, {"Content-Type": "application/json"}, body


class _ShimHandler(BaseHTTPRequestHandler):
    owner: WandbShim
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # never log requests
        return

    def _handle(self, method: str) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        status, out_headers, content = self.owner.forward(method, self.path, headers, body)
        self.send_response(status)
        for k, v in out_headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")
