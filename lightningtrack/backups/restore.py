"""Restoring a backup into a new database, never over a live one.

A workspace's backup is loaded into a database of a new name on its region's server (or
a new file), brought to the newest schema, and only then does the workspace point at it;
the database it used before is kept for the operator to inspect or drop. A backup is
only ever restored into the workspace it was taken of, and an erased workspace (whose
landlord row is gone) cannot be brought back. The landlord is restored beside the live
one, and the command says where: pointing ``LT_DATABASE_URL`` at it is the operator's
decision.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lightningtrack.backups import archive, dump
from lightningtrack.backups.archive import BackupError
from lightningtrack.backups.backup import require_key
from lightningtrack.models.landlord import Workspace
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases, migration
from lightningtrack.tenancy.config import WORKSPACE, make_client

if TYPE_CHECKING:
    from lightningtrack.tenancy.pools import PoolRegistry


@dataclass(frozen=True)
class Restored:
    database: str  # the new database's name (or file)
    previous: str | None  # what the workspace used before, kept
    schema_version: str | None = None


async def find_workspace(reference: str) -> Workspace:
    try:
        found = await Workspace.get_or_none(id=uuid.UUID(reference))
    except ValueError:
        found = await Workspace.get_or_none(slug=reference)
    if found is None:
        raise BackupError(
            f"There is no workspace {reference!r} (an erased workspace cannot be restored)."
        )
    return found


async def _load(url: DatabaseURL, file: Path, key: str, expected: dict[str, str]) -> None:
    metadata, chunks = await asyncio.to_thread(archive.read, file, key)
    if any(metadata.get(name) != value for name, value in expected.items()):
        held = metadata.get("workspaceId") or ""
        raise BackupError(
            f"This backup is of the {metadata.get('kind')} {held}, not of the one asked for."
        )
    if url.engine == "postgres":
        await databases.create_database(url)
    try:
        await asyncio.to_thread(dump.restore, url, chunks)
    except BaseException:
        await databases.drop_database(url)
        raise


async def restore_workspace(
    settings: Settings, pools: PoolRegistry, reference: str, file: Path, *, switch: bool = True
) -> Restored:
    key = require_key(settings)
    workspace = await find_workspace(reference)
    name = f"{databases.name_prefix(settings)}_rs_{uuid.uuid4().hex}"
    url = databases.database_url(settings, str(workspace.region), name)
    expected = {"kind": "workspace", "workspaceId": str(workspace.id)}
    await _load(url, file, key, expected)
    client = make_client(url, WORKSPACE, maxsize=1)
    try:
        # A backup may predate the newest migrations.
        version = await migration.migrate_workspace_client(client, workspace.id)
    except BaseException:
        await client.close()
        await databases.drop_database(url)
        raise
    await client.close()
    if not switch:
        return Restored(name, None, version)
    previous = workspace.db_name
    await Workspace.filter(id=workspace.id).update(
        db_name=name, schema_version=version, migrated_at=datetime.now(UTC)
    )
    # This process's pool of the old database closes; other processes' pools of it
    # close when idle, and every new request looks the workspace up afresh.
    await pools.discard(databases.workspace_url(settings, workspace))
    return Restored(name, previous, version)


async def restore_landlord(settings: Settings, file: Path) -> Restored:
    key = require_key(settings)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    landlord = settings.database_url
    if landlord.engine == "sqlite":
        current = Path(landlord.path)
        target = current.with_name(f"{current.stem}-restored-{stamp}{current.suffix}")
        url = DatabaseURL(engine="sqlite", path=str(target))
        name = str(target)
    else:
        name = f"{databases.name_prefix(settings)}_landlord_{stamp}"
        url = landlord.with_database(name)
    await _load(url, file, key, {"kind": "landlord"})
    return Restored(name, None)
