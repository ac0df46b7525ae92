"""The tenancy runtime of one process: Tortoise, the landlord, the workspace pool registry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tortoise import Tortoise

from lightningtrack.tenancy import databases, migration
from lightningtrack.tenancy.binding import bound
from lightningtrack.tenancy.config import tortoise_config
from lightningtrack.tenancy.pools import PoolRegistry

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from lightningtrack.models.landlord import Workspace
    from lightningtrack.settings import Settings


class Tenancy:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pools = PoolRegistry(
            max_connections=settings.pool_max_connections,
            per_pool=settings.pool_size_per_workspace,
            idle_seconds=settings.pool_idle_seconds,
        )
        self._janitor: asyncio.Task[None] | None = None

    async def start(self, *, migrate: bool = True, janitor: bool = True) -> None:
        """Connect to the landlord; with ``migrate``, bring it and the templates up to date."""
        await Tortoise.init(config=tortoise_config(self.settings), _enable_global_fallback=True)
        if migrate:
            await migration.migrate_landlord(self.settings)
            await migration.ensure_templates(self.settings)
        if janitor:
            self._janitor = asyncio.create_task(self.pools.run_janitor(), name="lt-pool-janitor")

    async def stop(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
            self._janitor = None
        await self.pools.close_all()
        await Tortoise.close_connections()

    @asynccontextmanager
    async def workspace(self, workspace: Workspace) -> AsyncIterator[BaseDBAsyncClient]:
        """Bind the task to ``workspace``'s database for the block, and unbind after it."""
        url = databases.workspace_url(self.settings, workspace)
        async with self.pools.lease(url) as client:
            with bound(workspace.id, client):
                yield client
