"""The registry of open workspace clients (connection pools), bounded by a global cap.

Clients open on demand when a task leases them and close when they have been idle for a
while or when a new workspace needs room. A pool holds at most ``per_pool`` connections,
and at most ``max_connections // per_pool`` pools are open, so the number of database
connections held for workspaces never exceeds ``max_connections``. When every open pool
is leased, a new lease waits for one to be returned rather than exceed the cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lightningtrack import metrics
from lightningtrack.tenancy.config import WORKSPACE, make_client

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from lightningtrack.settings import DatabaseURL

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    client: BaseDBAsyncClient
    leases: int = 0
    last_used: float = field(default_factory=time.monotonic)
    # Connections last reported to the metrics for this pool.
    connections: int = 0

    def report_connections(self) -> None:
        held = _connections(self.client)
        if held != self.connections:
            metrics.POOL_CONNECTIONS.inc(held - self.connections)
            self.connections = held


class PoolRegistry:
    def __init__(self, *, max_connections: int, per_pool: int, idle_seconds: float) -> None:
        self.per_pool = per_pool
        self.max_pools = max(1, max_connections // per_pool)
        self.idle_seconds = idle_seconds
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._condition = asyncio.Condition()
        self.opened = 0
        self.evicted = 0
        metrics.POOL_CONNECTION_CAP.set(self.max_pools * per_pool)

    @property
    def open_pools(self) -> int:
        return len(self._entries)

    def _key(self, url: DatabaseURL) -> str:
        return url.path if url.engine == "sqlite" else f"{url.server_key}/{url.database}"

    @asynccontextmanager
    async def lease(self, url: DatabaseURL) -> AsyncIterator[BaseDBAsyncClient]:
        """Lend the client of one workspace database for the length of the block."""
        entry = await self._acquire(url)
        try:
            yield entry.client
        finally:
            async with self._condition:
                entry.leases -= 1
                entry.last_used = time.monotonic()
                entry.report_connections()
                self._condition.notify_all()

    async def _acquire(self, url: DatabaseURL) -> _Entry:
        key = self._key(url)
        async with self._condition:
            while True:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    break
                if len(self._entries) >= self.max_pools and not await self._evict_one():
                    metrics.POOL_EVENTS.labels("waited").inc()
                    await self._condition.wait()
                    continue
                entry = _Entry(client=make_client(url, WORKSPACE, self.per_pool, self.idle_seconds))
                self._entries[key] = entry
                self.opened += 1
                metrics.POOLS_OPEN.inc()
                metrics.POOL_EVENTS.labels("opened").inc()
                break
            entry.leases += 1
            return entry

    async def _evict_one(self) -> bool:
        """Close the least recently used pool that nobody holds; False if all are held."""
        for key, entry in self._entries.items():
            if entry.leases == 0:
                del self._entries[key]
                self.evicted += 1
                metrics.POOL_EVENTS.labels("evicted").inc()
                await _close(entry)
                return True
        return False

    async def close_idle(self) -> int:
        """Close pools unused for ``idle_seconds``; returns how many were closed."""
        cutoff = time.monotonic() - self.idle_seconds
        async with self._condition:
            idle = [k for k, e in self._entries.items() if e.leases == 0 and e.last_used < cutoff]
            for key in idle:
                metrics.POOL_EVENTS.labels("idle_closed").inc()
                await _close(self._entries.pop(key))
            for entry in self._entries.values():
                entry.report_connections()
            if idle:
                self._condition.notify_all()
        return len(idle)

    async def discard(self, url: DatabaseURL) -> None:
        """Close and forget one database's client (before the database is dropped)."""
        async with self._condition:
            entry = self._entries.pop(self._key(url), None)
            if entry is not None:
                await _close(entry)
                self._condition.notify_all()

    async def close_all(self) -> None:
        async with self._condition:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                await _close(entry)
            self._condition.notify_all()

    async def run_janitor(self, interval: float | None = None) -> None:
        """Close idle pools forever; meant to run as a background task."""
        period = interval or max(1.0, self.idle_seconds / 2)
        while True:
            await asyncio.sleep(period)
            await self.close_idle()


def _connections(client: BaseDBAsyncClient) -> int:
    """Connections a client holds now: its asyncpg pool's size, or SQLite's one."""
    pool = getattr(client, "_pool", None)
    if pool is not None:
        return int(pool.get_size())
    return 1 if getattr(client, "_connection", None) is not None else 0


async def _close(entry: _Entry) -> None:
    metrics.POOLS_OPEN.dec()
    metrics.POOL_CONNECTIONS.dec(entry.connections)
    entry.connections = 0
    try:
        await entry.client.close()
    except Exception:  # a broken connection must not keep the registry from moving on
        log.warning("closing a workspace client failed", exc_info=True)
