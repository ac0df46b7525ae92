"""The registry of open workspace clients (connection pools), bounded by a global cap.

Clients open on demand when a task leases them and close when they have been idle for a
while or when a new workspace needs room. Room is counted in connections, not pools: a
leased pool counts as the connections its leases may take at once (two each, up to the
pool's ``per_pool``) or those it holds if more, a pool nobody holds as the connections it
still keeps (none once they have been idle for a while: pools open with
``min_size=0``). A lease goes ahead only while that sum stays within ``max_connections``,
so the connections held for workspaces never exceed it, while many pools whose
connections have gone idle stay open for nothing. When the room is short, pools that
nobody holds are closed (outside the registry's lock, so that leases of open pools go on
meanwhile; and as leases end, in the background, until there is room for as many new
leases as are running, ``headroom`` at least, so that a new workspace's lease seldom waits
for a close: a close waits for the server's backend to exit, tens of milliseconds when its
CPUs are busy, and the leases that arrive meanwhile are about as many as those running);
when every pool is leased, a new lease waits for one to be returned rather than exceed
the cap. At most ``max_connections`` pools are open.

Which pools close first: the least used, by a count of leases per workspace that is
halved every ``10 * max_connections`` leases (so that use long past fades), and among
pools used as often, the most recently used. A new connection costs the database server
a backend to start and its catalog caches to fill (several milliseconds of its CPU), so
what matters is how many leases find their connection open. Least-recently-used order
finds none when more workspaces take turns than the cap holds (each is evicted just
before its turn comes back); this order keeps the pools that were there, which find
theirs on every round, and a pool that is used more than others stays whatever the
order of the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tortoise.backends.asyncpg.client import AsyncpgDBClient

from lightningtrack import metrics
from lightningtrack.errors import WorkspaceUnavailable
from lightningtrack.tenancy.config import WORKSPACE, make_client
from lightningtrack.tenancy.serial import OneAtATimeClient

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from lightningtrack.settings import DatabaseURL

log = logging.getLogger(__name__)
# The connections one lease takes at most at once: one for its statements, one at a time
# (``OneAtATimeClient``), and one for its transaction, which runs one at a time too.
LEASE_CONNECTIONS = 2


@dataclass
class _Entry:
    key: str  # the registry's key of its database
    client: BaseDBAsyncClient
    leases: int = 0
    last_used: float = field(default_factory=time.monotonic)
    # Connections last reported to the metrics for this pool.
    connections: int = 0

    def held(self) -> int:
        return _connections(self.client)

    def report_connections(self) -> None:
        held = self.held()
        if held != self.connections:
            metrics.POOL_CONNECTIONS.inc(held - self.connections)
            self.connections = held


class PoolRegistry:
    def __init__(
        self, *, max_connections: int, per_pool: int, idle_seconds: float, headroom: int = 2
    ) -> None:
        self.max_connections = max_connections
        # Leases of new workspaces to keep room for at least, closing idle pools as leases end.
        self.headroom = headroom
        self.leased = 0  # leases running
        self.per_pool = per_pool
        # What one lease counts against the cap.
        self.lease_size = min(per_pool, LEASE_CONNECTIONS)
        self.idle_seconds = idle_seconds
        self._entries: dict[str, _Entry] = {}
        self._condition = asyncio.Condition()
        # Connections of pools taken out of the registry and not closed yet: still held.
        self._closing = 0
        self._closers: set[asyncio.Task[None]] = set()
        # Leases per database key, halved every ``_aging_period`` leases.
        self._uses: Counter[str] = Counter()
        self._aging_period = 10 * max_connections
        self._until_aging = self._aging_period
        self.opened = 0
        self.evicted = 0
        metrics.POOL_CONNECTION_CAP.set(max_connections)

    @property
    def open_pools(self) -> int:
        return len(self._entries)

    @property
    def reserved(self) -> int:
        """Connections counted against the cap: each pool's (``_counted``), and those of
        pools being closed."""
        return sum(self._counted(e, e.leases) for e in self._entries.values()) + self._closing

    def _counted(self, entry: _Entry, leases: int) -> int:
        """What a pool with ``leases`` leases counts against the cap: the connections it
        holds, and while leased at least those its leases may take at once."""
        held = entry.held()
        return max(held, min(self.per_pool, LEASE_CONNECTIONS * leases)) if leases else held

    def _key(self, url: DatabaseURL) -> str:
        return url.path if url.engine == "sqlite" else f"{url.server_key}/{url.database}"

    @asynccontextmanager
    async def lease(self, url: DatabaseURL) -> AsyncIterator[BaseDBAsyncClient]:
        """Lend the client of one workspace database for the length of the block.

        On PostgreSQL the block's statements take the pool's connections one at a
        time (``OneAtATimeClient``).
        """
        entry = await self._acquire(url)
        client = entry.client
        try:
            yield OneAtATimeClient(client) if isinstance(client, AsyncpgDBClient) else client
        finally:
            async with self._condition:
                entry.leases -= 1
                self.leased -= 1
                entry.last_used = time.monotonic()
                entry.report_connections()
                # Room for the next leases made now, off their path: closing a connection
                # waits for the server (milliseconds) while the cap still counts it.
                room = max(self.headroom, self.leased) * self.lease_size
                short = self.reserved + room - self.max_connections
                taken = self._take_unleased("", short, slot=True) if short > 0 else []
                if taken:
                    closing = asyncio.create_task(self._close_taken(taken))
                    self._closers.add(closing)
                    closing.add_done_callback(self._closers.discard)
                # Counted once the choice is made: a workspace seen for the first time
                # weighs as the pools that were there and saw no use since the counts
                # last faded, and of those it is the latest, the one to close.
                self._count_use(entry.key)
                self._condition.notify_all()

    async def _acquire(self, url: DatabaseURL) -> _Entry:
        key = self._key(url)
        # One stat of a local file, only while its pool is closed.
        missing = url.engine == "sqlite" and key not in self._entries
        if missing and not os.path.exists(key):  # noqa: ASYNC240
            # SQLite would create an empty file in its place and fail on the first table.
            log.warning("workspace database %s unavailable: the file is missing", key)
            raise WorkspaceUnavailable
        while True:
            async with self._condition:
                taken = await self._wait_for_room(key)
                if not taken:
                    return self._lend(key, url)
            await self._close_taken(taken)

    async def _wait_for_room(self, key: str) -> list[tuple[_Entry, int]]:
        """Under the lock: nothing once the lease fits, else the pools taken out for room."""
        while True:
            entry = self._entries.get(key)
            if entry is None:
                need = self.lease_size
            else:
                need = self._counted(entry, entry.leases + 1) - self._counted(entry, entry.leases)
            if need <= 0:
                return []
            slot = entry is not None or len(self._entries) < self.max_connections
            short = self.reserved + need - self.max_connections
            if slot and short <= 0:
                return []
            taken = self._take_unleased(key, short, slot)
            if taken:
                return taken
            metrics.POOL_EVENTS.labels("waited").inc()
            await self._condition.wait()

    def _count_use(self, key: str) -> None:
        self._uses[key] += 1
        self._until_aging -= 1
        if self._until_aging <= 0:
            self._until_aging = self._aging_period
            uses = self._uses
            for other, count in list(uses.items()):
                if count > 1:
                    uses[other] = count // 2
                else:
                    del uses[other]

    def _take_unleased(self, key: str, short: int, slot: bool) -> list[tuple[_Entry, int]]:
        """Take pools nobody holds out, the least used first and among those the most
        recently used, until ``short`` is freed."""
        taken: list[tuple[_Entry, int]] = []
        uses = self._uses
        order = sorted(self._entries.items(), key=lambda item: (uses[item[0]], -item[1].last_used))
        for other, entry in order:
            if short <= 0 and slot:
                break
            if other == key or entry.leases:
                continue
            if slot and entry.held() == 0:
                continue  # closing it would free no connection
            pair = self._take(other)
            self.evicted += 1
            metrics.POOL_EVENTS.labels("evicted").inc()
            taken.append(pair)
            short -= pair[1]
            slot = True
        return taken

    def _lend(self, key: str, url: DatabaseURL) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            client = make_client(url, WORKSPACE, self.per_pool, self.idle_seconds)
            entry = _Entry(key=key, client=client)
            self._entries[key] = entry
            self.opened += 1
            metrics.POOLS_OPEN.inc()
            metrics.POOL_EVENTS.labels("opened").inc()
        entry.leases += 1
        self.leased += 1
        return entry

    def _take(self, key: str) -> tuple[_Entry, int]:
        """Take a pool out of the registry; its connections count as closing until closed."""
        entry = self._entries.pop(key)
        held = entry.held()
        self._closing += held
        return entry, held

    async def _close_taken(self, taken: list[tuple[_Entry, int]]) -> None:
        """Close pools taken out of the registry, outside its lock, then count them gone."""
        try:
            for entry, _ in taken:
                await _close(entry)
        finally:
            async with self._condition:
                self._closing -= sum(held for _, held in taken)
                self._condition.notify_all()

    async def close_idle(self) -> int:
        """Close pools unused for ``idle_seconds``; returns how many were closed."""
        cutoff = time.monotonic() - self.idle_seconds
        async with self._condition:
            idle = [k for k, e in self._entries.items() if e.leases == 0 and e.last_used < cutoff]
            taken = [self._take(key) for key in idle]
            for entry in self._entries.values():
                entry.report_connections()
        for _ in taken:
            metrics.POOL_EVENTS.labels("idle_closed").inc()
        if taken:
            await self._close_taken(taken)
        return len(taken)

    async def discard(self, url: DatabaseURL) -> None:
        """Close and forget one database's client (before the database is dropped)."""
        key = self._key(url)
        async with self._condition:
            taken = [self._take(key)] if key in self._entries else []
        if taken:
            await self._close_taken(taken)

    async def close_all(self) -> None:
        async with self._condition:
            taken = [self._take(key) for key in list(self._entries)]
        await self._close_taken(taken)
        if self._closers:
            await asyncio.gather(*self._closers)

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
