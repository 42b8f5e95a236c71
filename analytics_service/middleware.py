"""ASGI middleware that puts every answer, errors included, through the same stack.

`CatchAllMiddleware` sits innermost (just outside the router), so an unexpected exception
becomes the service's JSON 500 *inside* the CORS, rate-limit and request-id middleware:
the browser can read it, and it carries the same headers as a good answer. (FastAPI would
otherwise answer it from its outermost error middleware, past CORS.)
`RequestIdMiddleware` gives every HTTP answer an `X-Request-ID` (the client's, when it sent
a sane one) and names it in the log line of an unexpected error.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("analytics_service")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def request_id(scope: Scope) -> str:
    """The request id given to this request ('-' outside `RequestIdMiddleware`)."""
    return scope.get("state", {}).get("request_id", "-")


async def send_json_error(
    send: Send, status: int, error: dict, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer `{"error": error}` with `status` straight through ASGI (docs/API.md's error
    body), for middleware that answers before or instead of the app."""
    body = json.dumps({"error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestIdMiddleware:
    """Adds `X-Request-ID` to every HTTP answer (kept from the request when sane)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next(
            (v for k, v in scope.get("headers") or [] if k == b"x-request-id"), b""
        ).strip()
        rid = given.decode() if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class CatchAllMiddleware:
    """Turns an exception escaping the app into the error model's 500 (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # The traceback goes to the server log (secrets redacted there), never to the
            # client; an answer already under way cannot be replaced, only cut off.
            log.exception(
                "unexpected error on %s %s (request %s): %r",
                scope.get("method"),
                scope.get("path"),
                request_id(scope),
                exc,
            )
            if started:
                raise
            await send_json_error(
                send,
                500,
                {
                    "code": "internal_error",
                    "message": "internal error; the service "
                    f"logged it (request {request_id(scope)})",
                },
            )
