"""Provisioning and dropping workspace databases (PostgreSQL databases or SQLite files)."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from lightningtrack.tenancy import databases

if TYPE_CHECKING:
    from lightningtrack.settings import Settings
    from lightningtrack.tenancy.pools import PoolRegistry

log = logging.getLogger(__name__)


async def create_workspace_database(
    settings: Settings, workspace_id: uuid.UUID, region: str
) -> str:
    """Create the workspace's database as a copy of its region's template; return its name.

    The template already holds the newest workspace schema, so the copy needs no migration.
    """
    db_name = databases.new_database_name(settings, workspace_id)
    url = databases.database_url(settings, region, db_name)
    template = databases.template_url(settings, region)
    async with databases.schema_lock(settings, databases.server_url(settings, region), shared=True):
        await databases.create_database(url, template)
    return db_name


async def drop_workspace_database(
    settings: Settings, registry: PoolRegistry, region: str, db_name: str
) -> None:
    """Close the database's pool, then drop it. Dropping a missing database is not an error."""
    url = databases.database_url(settings, region, db_name)
    await registry.discard(url)
    await databases.drop_database(url)
