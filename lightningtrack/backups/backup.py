"""Taking backups: the landlord and every workspace database, once a day or on demand.

One run at a time per installation (an advisory lock on PostgreSQL, a file lock on
SQLite), so that the sweeps of several processes never back up the same database twice.
A workspace whose erasure is scheduled is not backed up again: its newest backup then
predates the request, and expires (30 days later) on the same clock as any other.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise.expressions import Q

from lightningtrack import clock, metrics
from lightningtrack.backups import archive, dump, store
from lightningtrack.backups.archive import BackupError
from lightningtrack.models.landlord import Workspace
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases

log = logging.getLogger(__name__)
CONCURRENCY = 2


class BackupsOff(BackupError):
    pass


def require_key(settings: Settings) -> str:
    if settings.backup_key is None:
        raise BackupsOff("Backups are off: set LT_BACKUP_KEY to the key that encrypts them.")
    return settings.backup_key


@dataclass
class Report:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pruned: list[Path] = field(default_factory=list)
    busy: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.busy


@asynccontextmanager
async def run_lock(settings: Settings) -> AsyncIterator[bool]:
    """True while this process holds the installation's backup lock, False if another
    process holds it (never waits)."""
    if settings.database_url.engine == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with (settings.data_dir / ".backup.lock").open("a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True  # released when the file closes
        return
    name = f"lightningtrack:{databases.name_prefix(settings)}:backup"
    async with databases.admin_connection(settings.database_url) as conn:
        # Released when the connection closes, on every path.
        yield bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", name))


def is_due(newest: datetime | None, now: datetime) -> bool:
    """One backup per database per UTC day."""
    return newest is None or newest.date() < now.date()


async def take(
    settings: Settings, url: DatabaseURL, folder: Path, metadata: dict[str, Any], now: datetime
) -> Path:
    """Dump one database, encrypted, into ``folder``; returns the file."""
    key = require_key(settings)
    path = folder / store.file_name(now)
    size, sha256 = await asyncio.to_thread(archive.write, path, dump.dump(url), key, metadata)
    manifest = {
        **metadata,
        "file": path.name,
        "bytes": size,
        "sha256": sha256,
        "keyId": archive.key_id(key),
        "expiresAt": (now + store.RETENTION).isoformat(),
    }
    await asyncio.to_thread(store.write_manifest, path, manifest)
    return path


def _landlord_metadata(settings: Settings, now: datetime) -> dict[str, Any]:
    return {"kind": "landlord", "engine": settings.database_url.engine, "takenAt": now.isoformat()}


def workspace_metadata(settings: Settings, workspace: Workspace, now: datetime) -> dict[str, Any]:
    return {
        "kind": "workspace",
        "workspaceId": str(workspace.id),
        "region": str(workspace.region),
        "engine": settings.workspace_database_url.engine,
        "schemaVersion": workspace.schema_version,
        "takenAt": now.isoformat(),
    }


async def run(
    settings: Settings,
    *,
    now: datetime | None = None,
    due_only: bool = False,
    slugs: Sequence[str] = (),
) -> Report:
    """Back up the landlord and every workspace (or only ``slugs``), then prune.

    ``due_only`` (the schedule) skips databases already backed up today.
    """
    require_key(settings)
    report = Report()
    async with run_lock(settings) as acquired:
        if not acquired:
            report.busy = True
            return report
        moment = now or clock.now()
        if not slugs:
            await _landlord(settings, moment, due_only, report)
        query = Workspace.filter(slug__in=list(slugs)) if slugs else Workspace.all()
        workspaces = await query.order_by("created_at")
        limit = asyncio.Semaphore(CONCURRENCY)
        await asyncio.gather(
            *(_workspace(settings, w, moment, due_only, report, limit) for w in workspaces)
        )
        missing = set(slugs) - {w.slug for w in workspaces}
        for slug in sorted(missing):
            report.failed[slug] = "no such workspace"
        report.pruned = await asyncio.to_thread(store.prune, settings, moment)
    metrics.BACKUPS_PRUNED.inc(len(report.pruned))
    if not report.failed:
        metrics.BACKUP_LAST_SUCCESS.set(time.time())
    return report


async def _landlord(settings: Settings, now: datetime, due_only: bool, report: Report) -> None:
    folder = store.landlord_backup_dir(settings)
    if due_only and not is_due(await asyncio.to_thread(store.newest, folder), now):
        return
    try:
        path = await take(
            settings, settings.database_url, folder, _landlord_metadata(settings, now), now
        )
    except Exception as error:  # one failing database must not stop the others
        log.exception("backup of the landlord failed")
        report.failed["landlord"] = str(error)
        metrics.BACKUPS.labels("landlord", "failed").inc()
        return
    report.written.append(path)
    metrics.BACKUPS.labels("landlord", "ok").inc()


async def _workspace(
    settings: Settings,
    workspace: Workspace,
    now: datetime,
    due_only: bool,
    report: Report,
    limit: asyncio.Semaphore,
) -> None:
    if workspace.deletion_scheduled_at is not None:
        report.skipped.append(f"{workspace.slug}: erasure scheduled")
        return
    folder = store.workspace_folder(settings, str(workspace.region), workspace.id)
    async with limit:
        if due_only and not is_due(await asyncio.to_thread(store.newest, folder), now):
            return
        url = databases.workspace_url(settings, workspace)
        try:
            path = await take(
                settings, url, folder, workspace_metadata(settings, workspace, now), now
            )
        except Exception as error:
            log.exception("backup of workspace %s failed", workspace.id)
            report.failed[workspace.slug] = str(error)
            metrics.BACKUPS.labels("workspace", "failed").inc()
            return
    report.written.append(path)
    metrics.BACKUPS.labels("workspace", "ok").inc()


async def anything_due(settings: Settings, now: datetime) -> bool:
    """Whether the schedule owes a backup today (what the sweep asks every interval)."""
    if settings.backup_key is None or not settings.backup_schedule:
        return False
    if is_due(await asyncio.to_thread(store.newest, store.landlord_backup_dir(settings)), now):
        return True
    workspaces = await Workspace.filter(Q(deletion_scheduled_at__isnull=True)).only("id", "region")
    folders = [store.workspace_folder(settings, str(w.region), w.id) for w in workspaces]
    # One thread hop for the whole scan: the sweep asks this every interval.
    return await asyncio.to_thread(lambda: any(is_due(store.newest(f), now) for f in folders))
