"""Per-client rate limiting (token bucket per client address) as ASGI middleware."""

from __future__ import annotations

import math
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analytics_service.middleware import send_json_error

_MAX_RETRY_S = 24 * 3600.0


class TokenBuckets:
    """One token bucket per client: `rate` tokens/s refill, `burst` capacity."""

    def __init__(self, rate: float, burst: int, max_clients: int = 50_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0.0 when a request may pass, else seconds until one token is back."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_clients:
                    self._prune(now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def left(self, client: str) -> int:
        """Whole tokens `client` has left after its last request (the burst when unknown)."""
        with self._lock:
            tokens = self._buckets.get(client, (self.burst, 0.0))[0]
        return max(0, math.floor(tokens))

    def _prune(self, now: float) -> None:
        # Buckets that have refilled completely carry no state worth keeping.
        full = [
            c
            for c, (t, last) in self._buckets.items()
            if t + (now - last) * self.rate >= self.burst
        ]
        for c in full:
            del self._buckets[c]


class RateLimitMiddleware:
    """429 + Retry-After for a client over its rate on /api and /ws paths. Every HTTP answer
    on those paths, good or error, carries `RateLimit-Limit` (the burst) and
    `RateLimit-Remaining` (whole requests left right now)."""

    def __init__(
        self, app: ASGIApp, *, rate: float, burst: int, trust_forwarded_for: bool = False
    ) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst)
        self.trust_forwarded_for = trust_forwarded_for

    def _client(self, scope: Scope) -> str:
        if self.trust_forwarded_for:
            for name, value in scope.get("headers") or []:
                if name == b"x-forwarded-for":
                    return value.decode("latin-1").split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or not path.startswith(("/api/", "/ws/")):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)  # CORS preflights are not counted
            return
        client = self._client(scope)
        wait = self.buckets.take(client)
        limit_headers = [
            (b"ratelimit-limit", str(int(self.buckets.burst)).encode()),
            (b"ratelimit-remaining", str(self.buckets.left(client)).encode()),
        ]
        if wait <= 0:

            async def send_with_limits(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
                await send(message)

            await self.app(scope, receive, send_with_limits if scope["type"] == "http" else send)
            return
        retry = max(1, math.ceil(min(wait, _MAX_RETRY_S)))  # (a finite header, always)
        if scope["type"] == "websocket":
            # Accept, then close with a reason: a browser cannot read a refused handshake.
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send(
                    {
                        "type": "websocket.close",
                        "code": 4429,
                        "reason": f"rate limited; retry after {retry} s",
                    }
                )
            return
        await send_json_error(
            send,
            429,
            {
                "code": "rate_limited",
                "message": "too many requests from this client",
                "retry_after_s": retry,
            },
            [(b"retry-after", str(retry).encode()), *limit_headers],
        )
