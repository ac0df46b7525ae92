"""Encrypted backups: the file format resists the wrong key and tampering; a workspace
and the landlord round-trip through backup and restore with every row equal; the schedule
writes once a day and never over a live database; backups expire after 30 days, those of
an erased workspace included."""

from __future__ import annotations

import os
import sqlite3
import struct
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lightningtrack import clock
from lightningtrack.backups import archive, backup, restore, store
from lightningtrack.backups.archive import BackupError, BackupKeyMismatch
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, Workspace, WorkspaceStatus
from lightningtrack.resolvers import erasure, retention
from lightningtrack.resolvers.effects import collecting
from lightningtrack.settings import DatabaseURL, Settings, load_settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import BACKEND, Client, environment_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "backup-key-for-tests-" + "k" * 24
SECRET_TITLE = "Zebra crossing 7d1c0e"


@pytest.fixture
def backup_settings(settings: Settings, tmp_path: Path) -> Settings:
    return load_settings({**_env(settings), **_folders(tmp_path / "backups")})


def _folders(root: Path) -> dict[str, str]:
    """Backup folders of this test alone: the landlord's, and each region's storage (where
    a workspace's backups are written)."""
    return {
        "LT_BACKUP_DIR": str(root / "landlord"),
        "LT_REGION_STORAGE": f"us={root / 'us'},eu={root / 'eu'}",
    }


def _env(settings: Settings) -> dict[str, str]:
    return {
        **environment_for(settings.data_dir, settings.database_url.database or ""),
        "LT_BACKUP_KEY": KEY,
    }


def _chunks(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Where the header ends, and (offset, length) of each sealed chunk with its prefix."""
    (header,) = struct.unpack(">I", data[len(archive.MAGIC) : len(archive.MAGIC) + 4])
    offset = len(archive.MAGIC) + 4 + header
    start, found = offset, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        found.append((offset, 4 + length))
        offset += 4 + length
    return start, found


def _read_all(path: Path, key: str = KEY) -> bytes:
    _, chunks = archive.read(path, key)
    return b"".join(chunks)


def test_the_file_format_needs_the_key_and_detects_every_tampering(tmp_path: Path) -> None:
    plain = os.urandom(1000)
    path = tmp_path / "x.ltbk"
    archive.write(path, [plain[:300], plain[300:]], KEY, {"kind": "test"}, chunk_size=128)
    data = path.read_bytes()
    assert plain[:64] not in data
    assert _read_all(path) == plain
    assert (path.stat().st_mode & 0o777) == 0o600

    with pytest.raises(BackupKeyMismatch):
        _read_all(path, "another-key-" + "q" * 30)
    start, chunks = _chunks(data)
    assert len(chunks) == 8  # 1000 bytes in chunks of 128

    def tampered(content: bytes) -> None:
        broken = tmp_path / "broken.ltbk"
        broken.write_bytes(content)
        with pytest.raises(BackupError):
            _read_all(broken)

    (a0, al), (b0, bl) = chunks[1], chunks[2]
    tampered(data[:a0] + data[b0 : b0 + bl] + data[a0 : a0 + al] + data[b0 + bl :])  # reordered
    tampered(data[: chunks[-1][0]])  # cut after a whole chunk
    tampered(data[: chunks[3][0]] + data[chunks[4][0] :])  # a chunk dropped
    tampered(data + data[chunks[-1][0] :])  # the last chunk repeated
    tampered(data + b"\x00")  # anything appended
    flipped = bytearray(data)
    flipped[chunks[0][0] + 10] ^= 1
    tampered(bytes(flipped))  # a changed byte
    header = data[:start].replace(b'"kind": "test"', b'"kind": "tess"')
    tampered(header + data[start:])  # a changed header
    empty = tmp_path / "empty.ltbk"
    archive.write(empty, [], KEY, {"kind": "test"})
    assert _read_all(empty) == b""


async def _fill(owner: Client) -> None:
    project = await owner.gql(
        "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id } } }",
        {"input": {"key": "BAK", "name": "Backed up"}},
    )
    project_id = project["projectCreate"]["project"]["id"]
    for n in range(5):
        issue = await owner.gql(
            "mutation($input: IssueCreateInput!) { issueCreate(input: $input) { issue { id } } }",
            {"input": {"projectId": project_id, "title": f"{SECRET_TITLE} {n}", "labels": ["x"]}},
        )
        await owner.gql(
            "mutation($input: CommentCreateInput!) { commentCreate(input: $input) { "
            "comment { id } } }",
            {"input": {"issueId": issue["issueCreate"]["issue"]["id"], "body": f"note {n}"}},
        )


async def _rows(url: DatabaseURL) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a workspace database, in a stable order."""
    if url.engine == "sqlite":
        conn = sqlite3.connect(url.path)
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall()) for n in names}
        finally:
            conn.close()
    pg = await asyncpg.connect(
        host=url.host, port=url.port, user=url.user, password=url.password, database=url.database
    )
    try:
        names = [
            r["tablename"]
            for r in await pg.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        found = {}
        for name in names:
            records = await pg.fetch(f'SELECT * FROM "{name}"')
            found[name] = sorted((tuple(r.values()) for r in records), key=repr)
        return found
    finally:
        await pg.close()


async def test_a_workspace_round_trips_and_the_file_is_unreadable_without_the_key(
    owner: Client, backup_settings: Settings, tenancy: Tenancy
) -> None:
    await _fill(owner)
    workspace = await Workspace.get(slug=owner.workspace)
    live = databases.workspace_url(backup_settings, workspace)

    report = await backup.run(backup_settings, slugs=[workspace.slug])
    assert report.ok and len(report.written) == 1, report
    [path] = report.written
    assert path.parent == store.workspace_folder(backup_settings, "US", workspace.id)
    assert str(path).startswith(str(store.backup_dir(backup_settings, "US")))
    manifest = store.BackupFile(path, store.taken_at_of(path)).manifest()  # type: ignore[arg-type]
    assert manifest["workspaceId"] == str(workspace.id) and manifest["bytes"] == path.stat().st_size
    data = path.read_bytes()
    assert SECRET_TITLE.encode() not in data and workspace.slug.encode() not in data
    with pytest.raises(BackupKeyMismatch):
        _read_all(path, "the-wrong-key-" + "w" * 30)

    before = await _rows(live)
    assert len(before["issue"]) == 5 and len(before["comment"]) == 5
    done = await restore.restore_workspace(backup_settings, tenancy.pools, workspace.slug, path)
    assert done.previous == workspace.db_name and done.database != workspace.db_name
    moved = await Workspace.get(id=workspace.id)
    assert moved.db_name == done.database
    restored = await _rows(databases.workspace_url(backup_settings, moved))
    assert restored == before
    # The live database was left alone, and the API now reads the restored one.
    assert await databases.database_exists(live)
    titles = await owner.gql("{ issues(first: 10) { nodes { title } } }")
    assert sorted(n["title"] for n in titles["issues"]["nodes"]) == sorted(
        f"{SECRET_TITLE} {n}" for n in range(5)
    )


async def test_a_backup_is_never_restored_into_another_workspace(
    owner: Client, other_workspace: Client, backup_settings: Settings, tenancy: Tenancy
) -> None:
    report = await backup.run(backup_settings, slugs=[owner.workspace or ""])
    [path] = report.written
    other = await Workspace.get(slug=other_workspace.workspace)
    with pytest.raises(BackupError, match="not of the one asked for"):
        await restore.restore_workspace(backup_settings, tenancy.pools, other.slug, path)
    assert (await Workspace.get(id=other.id)).db_name == other.db_name


async def test_the_landlord_round_trips_into_a_new_database(
    owner: Client, backup_settings: Settings
) -> None:
    """The whole run writes the landlord too; its restore lands beside the live one."""
    report = await backup.run(backup_settings, slugs=())
    assert report.ok, report.failed
    [landlord] = [
        p for p in report.written if p.parent == store.landlord_backup_dir(backup_settings)
    ]
    accounts = await Account.all().count()
    done = await restore.restore_landlord(backup_settings, landlord)
    if BACKEND == "sqlite":
        conn = sqlite3.connect(done.database)
        try:
            restored = conn.execute("SELECT count(*) FROM account").fetchone()[0]
        finally:
            conn.close()
    else:
        url = backup_settings.database_url.with_database(done.database)
        conn_pg = await asyncpg.connect(
            host=url.host, port=url.port, user=url.user, database=url.database
        )
        try:
            restored = await conn_pg.fetchval("SELECT count(*) FROM account")
        finally:
            await conn_pg.close()
    assert restored == accounts
    assert done.database != (backup_settings.database_url.database or "")


async def test_the_schedule_backs_up_once_a_day_and_backups_expire_after_30_days(
    owner: Client,
    backup_settings: Settings,
    tenancy: Tenancy,
    jobs: InProcessRunner,
) -> None:
    """The sweep owes the day's backups until they exist; a workspace whose erasure is
    scheduled is not backed up again, and its last backup is gone 30 days after it was
    taken, erasure or not, never later."""
    workspace = await Workspace.get(slug=owner.workspace)
    # A paying workspace: the sweeps far ahead leave it alone until its deletion is asked.
    await Workspace.filter(id=workspace.id).update(
        status=WorkspaceStatus.ACTIVE, trial_ends_at=None
    )
    folder = store.workspace_folder(backup_settings, "US", workspace.id)
    start = clock.now() + timedelta(days=400)  # after every other test's backups

    async def sweep(at: Any) -> list[str]:
        clock.freeze(at)
        with collecting() as deferred:
            actions = await retention.run(backup_settings, tenancy, at)
        for job in deferred:  # the daily run, on the backup settings
            if job.task == "backup_run":
                await backup.run(backup_settings, now=at, due_only=True)
        return [a.kind for a in actions]

    assert "take the daily backups" in await sweep(start)
    assert len(list(folder.glob("*.ltbk"))) == 1
    assert "take the daily backups" not in await sweep(start + timedelta(hours=1))
    assert len(list(folder.glob("*.ltbk"))) == 1
    await sweep(start + timedelta(days=1))
    assert len(list(folder.glob("*.ltbk"))) == 2

    # What workspaceDelete records (the session itself has long expired at this clock).
    await Workspace.filter(id=workspace.id).update(
        status=WorkspaceStatus.PENDING_DELETION,
        status_before_deletion=WorkspaceStatus.ACTIVE,
        deletion_scheduled_at=start + timedelta(days=9),
    )
    await sweep(start + timedelta(days=2))
    assert len(list(folder.glob("*.ltbk"))) == 2  # not again once erasure is scheduled
    clock.freeze(start + timedelta(days=10))  # past the grace period
    assert await erasure.erase_workspace(backup_settings, tenancy, workspace.id)
    await jobs.drain()
    assert not await Workspace.exists(id=workspace.id)

    newest = start + timedelta(days=1)
    await sweep(newest + timedelta(days=29, hours=23))
    assert len(list(folder.glob("*.ltbk"))) == 1  # the first expired, the second not yet
    kinds = await sweep(newest + timedelta(days=30))
    assert "delete backups older than 30 days" in kinds
    assert not folder.exists()


def test_the_command_line_runs_lists_and_restores(
    owner: Client, settings: Settings, tmp_path: Path
) -> None:
    env = {**os.environ, **_env(settings), **_folders(tmp_path / "cli")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (our own command line)
            [sys.executable, "-m", "lightningtrack", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    ran = cli("backup", "run", "--workspace", owner.workspace or "")
    assert ran.returncode == 0, ran.stderr
    assert "backups: 1 written, 0 failed" in ran.stdout
    [path] = [line.removeprefix("wrote ") for line in ran.stdout.splitlines() if "wrote " in line]
    listed = cli("backup", "list")
    # Other tests' backups share the run's folders, some taken at later (frozen) times.
    assert listed.returncode == 0 and path in listed.stdout.split()
    restored = cli("backup", "restore", owner.workspace or "", path, "--no-switch")
    assert restored.returncode == 0, restored.stderr
    assert "workspace unchanged" in restored.stdout
    off = subprocess.run(
        [sys.executable, "-m", "lightningtrack", "backup", "run"],
        cwd=ROOT,
        env={k: v for k, v in env.items() if k != "LT_BACKUP_KEY"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert off.returncode == 1 and "LT_BACKUP_KEY" in off.stderr


def test_workspace_backups_stay_in_their_regions_storage(tmp_path: Path) -> None:
    settings = load_settings({"LT_DATA_DIR": str(tmp_path / "data"), **_folders(tmp_path)})
    assert store.backup_dir(settings, "EU").is_relative_to(tmp_path / "eu")
    assert store.backup_dir(settings, "US").is_relative_to(tmp_path / "us")
    assert store.landlord_backup_dir(settings).is_relative_to(tmp_path / "landlord")
