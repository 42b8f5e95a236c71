"""A fast path for fresh cached GETs: the finished body of a data endpoint, keyed by the
raw request (path, query, gzip or not), is answered without routing or validation while
its cache entry is fresh. Stale answers and errors never go through here; a fresh entry's
expiry is the cache's own, so freshness rules are unchanged. It sits inside the rate limit
and CORS middleware, which still apply."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_PREFIXES = ("/api/wandb/", "/api/local/")


def _key(scope: Scope) -> tuple[str, bytes, bool]:
    gz = False
    for name, value in scope.get("headers") or []:
        if name == b"accept-encoding":
            gz = b"gzip" in value
            break
    return scope["path"], scope.get("query_string", b""), gz


def fast_store(
    table: Any, scope: Scope, content: bytes, headers: dict[str, str], expires: float
) -> None:
    """Remember a fresh answer until `expires` (wall clock)."""
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    table.put(_key(scope), (expires, content, raw_headers))


class FastPathMiddleware:
    """Serve remembered fresh answers; everything else goes to the app."""

    def __init__(self, app: ASGIApp, *, table: Any) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "GET"
            and scope["path"].startswith(_PREFIXES)
        ):
            hit = self.table.get(_key(scope))
            if hit is not None and hit[0] > time.time():
                await send({"type": "http.response.start", "status": 200, "headers": hit[2]})
                await send({"type": "http.response.body", "body": hit[1]})
                return
        await self.app(scope, receive, send)
