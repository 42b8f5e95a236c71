"""What one app instance holds: settings, sources, cache, worker pool, play sessions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from analytics_service.cache import ResponseCache
from analytics_service.local_source import LocalSource
from analytics_service.settings import Settings
from analytics_service.wandb_source import WandbSource
from analytics_service.warmup import Warmer


class LRU:
    """A small least-recently-used map (event-loop side only; no locking needed): at most
    `capacity` entries and, when `weigh` is given, at most `max_bytes` of `weigh(value)`
    in all (a table of bodies keyed by raw query strings must not grow with each distinct
    query's body)."""

    def __init__(
        self,
        capacity: int,
        max_bytes: int | None = None,
        weigh: Callable[[Any], int] | None = None,
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._weigh = weigh
        self.bytes = 0
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        old = self._items.pop(key, None)
        if old is not None and self._weigh is not None:
            self.bytes -= self._weigh(old)
        if self._weigh is not None:
            size = self._weigh(value)
            if self.max_bytes is not None and size > self.max_bytes // 4:
                return  # (too large to keep among others)
            self.bytes += size
        self._items[key] = value
        while len(self._items) > self.capacity or (
            self.max_bytes is not None and self.bytes > self.max_bytes
        ):
            _, dropped = self._items.popitem(last=False)
            if self._weigh is not None:
                self.bytes -= self._weigh(dropped)


def _body_bytes(kept: tuple) -> int:
    body, zipped = kept
    return len(body) + (len(zipped) if zipped is not None else 0) + 512


def _fast_bytes(entry: tuple) -> int:
    return len(entry[1]) + 512


@dataclass
class Services:
    settings: Settings
    local: LocalSource
    wandb: WandbSource | None
    cache: ResponseCache
    executor: ThreadPoolExecutor
    warmer: Warmer
    health: dict[str, Any] = field(default_factory=dict)  # {"at": ts, "value": ...}
    # serialised response bodies, and fresh ones by raw request (bounded by bytes too)
    bodies: LRU = field(default_factory=lambda: LRU(256, 32 << 20, _body_bytes))
    local_memo: LRU = field(default_factory=lambda: LRU(1024))  # short memo of local reads
    fast: LRU = field(default_factory=lambda: LRU(1024, 16 << 20, _fast_bytes))
    play: Any = None  # analytics_service.play.PlaySessions, built lazily (needs envjax)
    replay_streams: int = 0

    @classmethod
    def build(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            local=LocalSource(settings.runs_dir),
            wandb=WandbSource(settings) if settings.wandb_configured else None,
            cache=ResponseCache(
                settings.cache_dir,
                size_mb=settings.cache_size_mb,
                error_backoff_s=settings.error_backoff_s,
                ttl_not_found_s=settings.ttl_not_found_s,
            ),
            executor=ThreadPoolExecutor(
                max_workers=settings.wandb_max_concurrency, thread_name_prefix="wandb"
            ),
            warmer=Warmer(settings.runs_dir),
        )

    def close(self) -> None:
        self.warmer.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.wandb is not None:
            self.wandb.close()
        self.cache.close()
