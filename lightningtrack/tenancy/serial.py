"""The client a lease binds on PostgreSQL: the operation's statements one at a time.

A GraphQL operation runs its dataloaders concurrently; through the pool's own client each of
them takes a connection of its own at once, so that an operation on a workspace whose pool
has gone cold opened a new server connection (a new PostgreSQL backend, with its catalog
caches to fill) for every loader. Bound instead of the pool's client, this one lets the
lease's statements take a connection from the pool one at a time (a lock per lease): the
pool hands the connection just returned to the next statement, so a lease opens one
connection where it opened one per loader, and holds none between statements. A
connection is not kept for the lease: a lease that kept one while its transaction waits
for another could, with others doing the same, hold every connection of the pool and
wait forever. Transactions take a connection of their own from the pool, as before.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tortoise.backends.asyncpg.client import AsyncpgDBClient

if TYPE_CHECKING:
    import asyncpg
    from tortoise.backends.base.client import TransactionContext


class OneAtATimeClient(AsyncpgDBClient):
    def __init__(self, parent: AsyncpgDBClient) -> None:
        # Like Tortoise's TransactionWrapper: the parent's settings; its pool is used.
        self.pool_client: AsyncpgDBClient = parent
        self.log = parent.log
        self.connection_name = parent.connection_name
        self.fetch_inserted = parent.fetch_inserted
        self._lock = asyncio.Lock()

    def acquire_connection(self) -> Any:
        return _OneAtATime(self)

    def _in_transaction(self) -> TransactionContext:
        return self.pool_client._in_transaction()

    async def close(self) -> None:
        """Nothing to close: the pool belongs to the registry."""


class _OneAtATime:
    __slots__ = ("client", "inner")

    def __init__(self, client: OneAtATimeClient) -> None:
        self.client = client
        self.inner: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        lock = self.client._lock
        await lock.acquire()
        try:
            self.inner = self.client.pool_client.acquire_connection()
            connection: asyncpg.Connection = await self.inner.__aenter__()
        except BaseException:
            lock.release()
            raise
        return connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.inner.__aexit__(exc_type, exc, traceback)
        finally:
            self.client._lock.release()
