"""The service's error model: every failure is JSON `{"error": {...}}` with the right status.

Handlers map validation errors, unknown routes and anything unexpected to that shape, so a
client never sees a bare 500, a stack trace or the W&B key.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("analytics_service")


class ApiError(Exception):
    """An error with a status, a stable code and a message safe to show to a user."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s

    def payload(self) -> dict:
        """JSON body of this error."""
        body: dict = {"code": self.code, "message": self.message}
        if self.retry_after_s is not None:
            body["retry_after_s"] = max(1, math.ceil(self.retry_after_s))
        return {"error": body}

    def headers(self) -> dict[str, str]:
        """HTTP headers of this error (Retry-After where it applies)."""
        if self.retry_after_s is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}


class NotFound(ApiError):
    status, code = 404, "not_found"


class InvalidRequest(ApiError):
    status, code = 422, "invalid_request"


class EpisodeFinished(ApiError):
    status, code = 409, "episode_finished"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class UpstreamError(ApiError):
    status, code = 502, "upstream_error"


class NotConfigured(ApiError):
    status, code = 503, "not_configured"


class SessionLimit(ApiError):
    status, code = 503, "session_limit"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


class UpstreamTimeout(ApiError):
    status, code = 504, "upstream_timeout"


def error_response(err: ApiError) -> JSONResponse:
    """The JSON response for an ApiError."""
    return JSONResponse(err.payload(), status_code=err.status, headers=err.headers())


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        kind = str(item.get("type", ""))
        if kind == "json_invalid":  # (its loc is a character position, not a field)
            error = (item.get("ctx") or {}).get("error")
            parts.append("body: not valid JSON" + (f" ({error})" if error else ""))
            continue
        loc = item.get("loc", ())
        where = ".".join(str(p) for p in loc if p not in ("body",)) or str(loc[0] if loc else "")
        msg = item.get("msg", "invalid")
        if kind.endswith("_type") and "input" in item:
            # a wrong JSON type (strict bodies): say which one came, never the value
            msg += f" (got {_json_type(item['input'])})"
        parts.append(f"{where or 'request'}: {msg}")
    return "; ".join(parts) or "invalid request"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes | bytearray):
        # FastAPI hands over the raw bytes of a body sent without a JSON content type
        return "a body that is not JSON; send Content-Type: application/json"
    for typ, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, typ):
            return name
    return "array" if isinstance(value, list) else "object"


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the error model."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(InvalidRequest(_describe_validation(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            err: ApiError = NotFound("no such route")
        elif exc.status_code == 405:
            err = ApiError("method not allowed on this route")
            err.status, err.code = 405, "method_not_allowed"
        else:
            err = ApiError(str(exc.detail) if exc.detail else "request failed")
            err.status, err.code = exc.status_code, "http_error"
        return JSONResponse(err.payload(), status_code=err.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (secrets redacted there), never to the client.
        log.error("unexpected error on %s %s: %r", request.method, request.url.path, exc)
        err = ApiError("internal error; the service logged it")
        return error_response(err)
