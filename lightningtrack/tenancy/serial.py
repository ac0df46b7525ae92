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
wait forever. Transactions take a connection of their own from the pool, as before, and
a lease's transactions run one at a time (another lock per lease; a transaction nested in
one is a savepoint on its connection, which takes no lock), so that a lease holds two
connections at most at once, as the pool registry counts it.

A database that cannot be reached (refused, dropped, out of connections) is reported as
``WorkspaceUnavailable`` with one log line, rather than a traceback per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.exceptions import DBConnectionError

from lightningtrack.errors import WorkspaceUnavailable
from lightningtrack.models.base import RowExecutor

if TYPE_CHECKING:
    from tortoise.backends.base.client import TransactionContext

log = logging.getLogger(__name__)
T = TypeVar("T")


class OneAtATimeClient(AsyncpgDBClient):
    # Selects of one model build models from the driver's records directly.
    executor_class = RowExecutor

    def __init__(self, parent: AsyncpgDBClient) -> None:
        # Like Tortoise's TransactionWrapper: the parent's settings; its pool is used.
        self.pool_client: AsyncpgDBClient = parent
        self.log = parent.log
        self.connection_name = parent.connection_name
        self.fetch_inserted = parent.fetch_inserted
        self._lock = asyncio.Lock()
        self._transaction_lock = asyncio.Lock()

    def acquire_connection(self) -> Any:
        return _OneAtATime(self)

    def _in_transaction(self) -> TransactionContext:
        inner = self.pool_client._in_transaction()
        return _Reaching(inner, self.pool_client, self._transaction_lock)  # type: ignore[return-value]

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
            connection: asyncpg.Connection = await _reach(
                self.inner.__aenter__(), self.client.pool_client
            )
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


# What failing to open a connection raises: the server refusing or unreachable, the
# database missing, no connection slot left, Tortoise's wrapping of those.
_UNREACHABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.InvalidAuthorizationSpecificationError,
    DBConnectionError,
)


async def _reach(opening: Awaitable[T], client: AsyncpgDBClient) -> T:
    """Await what opens (or takes from the pool) a connection; a database that cannot
    be reached is one log line and WorkspaceUnavailable, not a traceback per request."""
    try:
        return await opening
    except _UNREACHABLE as error:
        log.warning(
            "workspace database %s unavailable: %s: %s",
            client.database,
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
        )
        raise WorkspaceUnavailable from None


class _Reaching:
    """A transaction context whose opening maps an unreachable database as ``_reach``,
    entered under the lease's transaction lock."""

    __slots__ = ("client", "inner", "lock")

    def __init__(
        self, inner: TransactionContext, client: AsyncpgDBClient, lock: asyncio.Lock
    ) -> None:
        self.inner = inner
        self.client = client
        self.lock = lock

    async def __aenter__(self) -> Any:
        await self.lock.acquire()
        try:
            return await _reach(self.inner.__aenter__(), self.client)
        except BaseException:
            self.lock.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.inner.__aexit__(exc_type, exc, traceback)
        finally:
            self.lock.release()
