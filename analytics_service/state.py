"""What one app instance holds: settings, sources, cache, worker pool, play sessions."""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from analytics_service.cache import ResponseCache
from analytics_service.local_source import LocalSource
from analytics_service.settings import Settings
from analytics_service.wandb_source import WandbSource
from analytics_service.warmup import Warmer


class LRU:
    """A small least-recently-used map (event-loop side only; no locking needed)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


@dataclass
class Services:
    settings: Settings
    local: LocalSource
    wandb: WandbSource | None
    cache: ResponseCache
    executor: ThreadPoolExecutor
    warmer: Warmer
    health: dict[str, Any] = field(default_factory=dict)  # {"at": ts, "value": ...}
    bodies: LRU = field(default_factory=lambda: LRU(256))  # serialised response bodies
    local_memo: LRU = field(default_factory=lambda: LRU(1024))  # short memo of local reads
    fast: LRU = field(default_factory=lambda: LRU(1024))  # fresh bodies by raw request
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
