"""Where backup files live, what they are called, and their expiry after 30 days.

A workspace's backups are written where its region says (``backup_dir``), one folder per
workspace, named by its id (never its slug or name); the landlord's go to
``landlord_backup_dir``. A file is named by the UTC moment it was taken and has a JSON
sidecar (its manifest: what it holds, its size, SHA-256 and expiry). The name alone
decides the expiry, so a backup of an erased workspace expires on the same clock as any
other, and nothing but the file system is needed to find, prune or restore backups.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lightningtrack.settings import Settings
from lightningtrack.tenancy import storage

RETENTION = timedelta(days=30)
SUFFIX = ".ltbk"
_STAMP = "%Y%m%dT%H%M%S%fZ"
_NAME = re.compile(r"^(\d{8}T\d{12}Z)\.ltbk$")


def backup_dir(settings: Settings, region: str) -> Path:
    """The folder for the backups of a region's workspaces: inside the region's own
    storage, so that no copy of a workspace leaves its region."""
    return storage.region_dir(settings, region) / "backups"


def landlord_backup_dir(settings: Settings) -> Path:
    return settings.backup_dir / "landlord"


def workspace_folder(settings: Settings, region: str, workspace_id: object) -> Path:
    return backup_dir(settings, region) / "workspaces" / str(workspace_id)


def file_name(taken_at: datetime) -> str:
    return taken_at.astimezone(UTC).strftime(_STAMP) + SUFFIX


def taken_at_of(path: Path) -> datetime | None:
    match = _NAME.match(path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


@dataclass(frozen=True)
class BackupFile:
    path: Path
    taken_at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.taken_at + RETENTION

    def manifest(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(sidecar(self.path).read_text())
        except (OSError, ValueError):
            return {}
        return loaded


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    target = sidecar(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.chmod(partial, 0o600)
    os.replace(partial, target)


def roots(settings: Settings) -> list[Path]:
    """Every folder that holds backups: the landlord's and each region's."""
    folders = [landlord_backup_dir(settings)]
    folders += [backup_dir(settings, region) for region in sorted(settings.regions)]
    return list(dict.fromkeys(folders))


def files_in(folder: Path) -> list[BackupFile]:
    if not folder.exists():
        return []
    found = []
    for path in folder.rglob(f"*{SUFFIX}"):
        taken_at = taken_at_of(path)
        if taken_at is not None:
            found.append(BackupFile(path, taken_at))
    return sorted(found, key=lambda f: f.taken_at)


def all_files(settings: Settings) -> list[BackupFile]:
    return [f for root in roots(settings) for f in files_in(root)]


def newest(folder: Path) -> datetime | None:
    """When the newest backup in one folder (one database's) was taken."""
    if not folder.exists():
        return None
    stamps = [t for p in folder.iterdir() if (t := taken_at_of(p)) is not None]
    return max(stamps, default=None)


def expired(settings: Settings, now: datetime) -> list[BackupFile]:
    return [f for f in all_files(settings) if f.expires_at <= now]


def prune(settings: Settings, now: datetime) -> list[Path]:
    """Delete every backup taken 30 days or more before ``now``, with its manifest, and
    the folders that leaves empty; also half-written files a day old."""
    removed = []
    for backup in expired(settings, now):
        sidecar(backup.path).unlink(missing_ok=True)
        backup.path.unlink(missing_ok=True)
        removed.append(backup.path)
        folder = backup.path.parent
        if folder.name != "landlord" and not any(folder.iterdir()):
            folder.rmdir()
    cutoff = datetime.now(UTC).timestamp() - 86400
    for root in roots(settings):
        if root.exists():
            for partial in root.rglob("*.partial"):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink(missing_ok=True)
    return removed
