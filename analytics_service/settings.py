"""Service settings, read from the environment and `.env` (documented in `.env.example`).

Every numeric setting has bounds and refuses NaN and ±inf; a bad value fails `Settings()`
with a `ValidationError` naming the variable (`python -m analytics_service` prints one line
per bad value and exits 2 before starting the server)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_WEEK_S = 7 * 24 * 3600


def _alias(name: str) -> AliasChoices:
    # Env var name plus the field name, so code and tests can pass keyword arguments.
    return AliasChoices(name, name.lower().removeprefix("analytics_"))


class Settings(BaseSettings):
    """Everything the service can be told; frozen once built."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        allow_inf_nan=False,
    )

    # Browser access
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"],
        validation_alias=_alias("ALLOWED_ORIGINS"),
    )

    # Also allowed: origins matching this regex (e.g. preview deployments); unset: none.
    allowed_origin_regex: str | None = Field(None, validation_alias=_alias("ALLOWED_ORIGIN_REGEX"))

    # W&B
    wandb_api_key: SecretStr | None = Field(None, validation_alias=_alias("WANDB_API_KEY"))
    wandb_entity: str | None = Field(None, validation_alias=_alias("WANDB_ENTITY"))
    wandb_project: str | None = Field(None, validation_alias=_alias("WANDB_PROJECT"))
    wandb_base_url: str = Field("https://api.wandb.ai", validation_alias=_alias("WANDB_BASE_URL"))
    # Per upstream HTTP request, and for a whole fetch (a history scan is several requests).
    wandb_timeout_s: float = Field(
        4.0, gt=0, le=60, validation_alias=_alias("ANALYTICS_WANDB_TIMEOUT_S")
    )
    fetch_timeout_s: float = Field(
        8.0, gt=0, le=120, validation_alias=_alias("ANALYTICS_FETCH_TIMEOUT_S")
    )
    wandb_max_concurrency: int = Field(
        8, ge=1, le=64, validation_alias=_alias("ANALYTICS_WANDB_MAX_CONCURRENCY")
    )
    wandb_default_retry_after_s: int = Field(
        30, ge=1, le=3600, validation_alias=_alias("ANALYTICS_WANDB_DEFAULT_RETRY_AFTER_S")
    )

    # Local run records, and how long a read of them is reused (0: read on every request)
    runs_dir: Path = Field(Path("runs"), validation_alias=_alias("ANALYTICS_RUNS_DIR"))
    local_memo_s: float = Field(1.0, ge=0, le=60, validation_alias=_alias("ANALYTICS_LOCAL_MEMO_S"))
    # Newest local runs whose columns are built in the background at start-up (0: none)
    warm_runs: int = Field(4, ge=0, le=16, validation_alias=_alias("ANALYTICS_WARM_RUNS"))

    # Cache
    cache_dir: Path = Field(
        Path(".cache/analytics"), validation_alias=_alias("ANALYTICS_CACHE_DIR")
    )
    cache_size_mb: int = Field(
        256, ge=1, le=100_000, validation_alias=_alias("ANALYTICS_CACHE_SIZE_MB")
    )
    ttl_runs_s: float = Field(30, ge=0, le=_WEEK_S, validation_alias=_alias("ANALYTICS_TTL_RUNS_S"))
    ttl_running_s: float = Field(
        15, ge=0, le=_WEEK_S, validation_alias=_alias("ANALYTICS_TTL_RUNNING_S")
    )
    ttl_finished_s: float = Field(
        3600, ge=0, le=_WEEK_S, validation_alias=_alias("ANALYTICS_TTL_FINISHED_S")
    )
    ttl_not_found_s: float = Field(
        10, ge=0, le=_WEEK_S, validation_alias=_alias("ANALYTICS_TTL_NOT_FOUND_S")
    )
    error_backoff_s: float = Field(
        5, ge=0, le=3600, validation_alias=_alias("ANALYTICS_ERROR_BACKOFF_S")
    )
    health_ttl_s: float = Field(
        30, ge=0, le=3600, validation_alias=_alias("ANALYTICS_HEALTH_TTL_S")
    )

    # Per-client rate limit (token bucket: `rate_limit_per_s` refill, `rate_limit_burst` size)
    rate_limit_per_s: float = Field(
        # (at least one request per 1000 s: a rate of 1e-320/s makes the wait infinite)
        20,
        ge=0.001,
        le=1_000_000,
        validation_alias=_alias("ANALYTICS_RATE_LIMIT_PER_S"),
    )
    rate_limit_burst: int = Field(
        60, ge=1, le=1_000_000, validation_alias=_alias("ANALYTICS_RATE_LIMIT_BURST")
    )
    trust_forwarded_for: bool = Field(
        False, validation_alias=_alias("ANALYTICS_TRUST_FORWARDED_FOR")
    )

    # Play sessions and replays
    play_max_sessions: int = Field(
        64, ge=1, le=10_000, validation_alias=_alias("ANALYTICS_PLAY_MAX_SESSIONS")
    )
    # A session unused this many minutes expires; a client's sessions beyond the per-client
    # cap close least recently used first (a new game replaces the previous one).
    play_idle_minutes: float = Field(
        10, gt=0, le=1440, validation_alias=_alias("ANALYTICS_PLAY_IDLE_MINUTES")
    )
    play_max_per_client: int = Field(
        3, ge=1, le=100, validation_alias=_alias("ANALYTICS_PLAY_MAX_PER_CLIENT")
    )
    replay_max_streams: int = Field(
        8, ge=1, le=256, validation_alias=_alias("ANALYTICS_REPLAY_MAX_STREAMS")
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # "a,b" or a JSON list; an empty string means no cross-origin access at all.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        # An origin is scheme://host[:port] and nothing more ("*": any); anything else would
        # never match a browser's Origin header, silently.
        from urllib.parse import urlsplit

        for origin in value:
            if origin == "*":
                continue
            try:
                parts = urlsplit(origin)
                ok = parts.scheme in ("http", "https") and bool(parts.hostname)
                ok = ok and not (parts.path or parts.query or parts.fragment) and _port_ok(parts)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"{origin!r} is not an origin such as http://localhost:3000")
        return value

    @field_validator("allowed_origin_regex")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        import re

        if value is None or not value.strip():
            return None
        try:
            re.compile(value)  # a bad pattern fails at startup, not per request
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("wandb_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        text = value.strip()
        parts = urlsplit(text)
        printable = all(" " < c < "\x7f" for c in text)
        if parts.scheme not in ("http", "https") or not parts.hostname or not printable:
            raise ValueError("must be an http(s) URL such as https://api.wandb.ai")
        if not _port_ok(parts):
            raise ValueError("its port must be 1-65535")
        return text

    @field_validator("runs_dir", "cache_dir", mode="before")
    @classmethod
    def _path_not_empty(cls, value: object) -> object:
        # Path("") is the current directory: an unset-by-mistake variable, not a choice.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty (use . for the current directory)")
        return value

    @field_validator("runs_dir")
    @classmethod
    def _runs_dir_is_a_directory(cls, value: Path) -> Path:
        # A missing directory is fine (no runs yet); a file in its place, or above it, is a
        # mistake (the directory could never be created there).
        for path in (value, *value.absolute().parents):
            if path.exists():
                if not path.is_dir():
                    raise ValueError(f"{path} is not a directory")
                break
        return value

    @field_validator("wandb_api_key", "wandb_entity", "wandb_project", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # A blank value is an unset one (reported as missing), not a name W&B would refuse.
        return None if isinstance(value, str) and not value.strip() else value

    @cached_property
    def wandb_configured(self) -> bool:
        """True when a key, entity and project are all set."""
        return bool(self.wandb_api_key and self.wandb_entity and self.wandb_project)

    @cached_property
    def wandb_missing(self) -> str:
        """Human reason why W&B is not configured ('' when it is)."""
        missing = [
            name
            for name, value in (
                ("WANDB_API_KEY", self.wandb_api_key),
                ("WANDB_ENTITY", self.wandb_entity),
                ("WANDB_PROJECT", self.wandb_project),
            )
            if not value
        ]
        return f"{', '.join(missing)} not set" if missing else ""


def _port_ok(parts: object) -> bool:
    """False when a parsed URL names a port outside 1-65535 (urlsplit raises on access)."""
    try:
        port = parts.port  # type: ignore[attr-defined]
    except ValueError:
        return False
    return port is None or 1 <= port <= 65535
