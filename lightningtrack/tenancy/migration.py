"""Bringing the landlord, the templates and every workspace database to the newest schema."""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from typing import TYPE_CHECKING

from tortoise.connection import get_connection
from tortoise.migrations.executor import MigrationExecutor

from lightningtrack.models.landlord import Workspace
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.binding import bound
from lightningtrack.tenancy.config import (
    LANDLORD,
    LANDLORD_APP,
    WORKSPACE,
    WORKSPACE_APP,
    make_client,
)

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

    from lightningtrack.settings import Settings
    from lightningtrack.tenancy.pools import PoolRegistry

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
# The id the template database is bound under while it is migrated.
TEMPLATE_ID = uuid.UUID(int=0)


def latest_migration(app: dict[str, object]) -> str:
    """The name of the newest migration on disk for an app (names sort in order)."""
    package = import_module(str(app["migrations"]))
    names = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    return max(names)


async def _apply(client: BaseDBAsyncClient, label: str, app: dict[str, object]) -> str:
    executor = MigrationExecutor(client, {label: app})
    await executor.migrate()
    return latest_migration(app)


async def migrate_landlord(settings: Settings) -> str:
    async with databases.schema_lock(settings, settings.database_url, shared=False):
        return await _apply(get_connection(LANDLORD), LANDLORD, LANDLORD_APP)


async def migrate_workspace_client(
    client: BaseDBAsyncClient, workspace_id: uuid.UUID = TEMPLATE_ID
) -> str:
    """Migrate one workspace database; its client is bound as ``workspace`` meanwhile,
    because the migration executor opens its transactions by that name."""
    with bound(workspace_id, client):
        return await _apply(client, WORKSPACE, WORKSPACE_APP)


async def ensure_template(settings: Settings, region: str) -> str:
    """Create the region's template database if missing and bring it to the newest schema.

    New workspaces are copies of it, so it must hold the newest schema and no session may
    stay connected to it afterwards.
    """
    server = databases.server_url(settings, region)
    url = databases.template_url(settings, region)
    async with databases.schema_lock(settings, server, shared=False):
        if not await databases.database_exists(url):
            await databases.create_database(url)
        client = make_client(url, WORKSPACE, maxsize=1)
        try:
            return await migrate_workspace_client(client)
        finally:
            await client.close()


async def ensure_templates(settings: Settings) -> None:
    regions = (
        ["US"] if settings.workspace_database_url.engine == "sqlite" else list(settings.regions)
    )
    for region in regions:
        await ensure_template(settings, region)


@dataclass
class MigrationReport:
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


async def migrate_workspaces(
    settings: Settings,
    registry: PoolRegistry,
    *,
    concurrency: int | None = None,
    progress: Progress | None = None,
) -> MigrationReport:
    """Migrate every workspace database, a bounded number at once.

    A failing workspace is reported and does not stop the others; each success records
    the workspace's schema version in the landlord.
    """
    workspaces = await Workspace.all().order_by("created_at")
    total = len(workspaces)
    limit = asyncio.Semaphore(concurrency or settings.migrate_concurrency)
    report = MigrationReport()
    done = 0

    async def one(workspace: Workspace) -> None:
        nonlocal done
        async with limit:
            url = databases.workspace_url(settings, workspace)
            try:
                if not await databases.database_exists(url):
                    raise RuntimeError(f"database {workspace.db_name} does not exist")
                async with registry.lease(url) as client:
                    version = await migrate_workspace_client(client, workspace.id)
                await Workspace.filter(id=workspace.id).update(
                    schema_version=version, migrated_at=datetime.now(UTC)
                )
                report.migrated.append(workspace.slug)
                outcome = f"ok ({version})"
            except Exception as exc:  # one broken workspace must not stop the others
                log.exception("migrating workspace %s failed", workspace.slug)
                report.failed[workspace.slug] = f"{type(exc).__name__}: {exc}"
                outcome = f"FAILED: {type(exc).__name__}: {exc}"
            done += 1
            if progress is not None:
                progress(f"[{done}/{total}] {workspace.slug}: {outcome}")

    await asyncio.gather(*(one(w) for w in workspaces))
    return report
