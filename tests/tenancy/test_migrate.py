"""Migrating every workspace database: one broken workspace is reported, the rest migrate."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from tortoise.backends.base.client import BaseDBAsyncClient

from lightningtrack.models.landlord import Membership, Workspace
from lightningtrack.models.workspace import Project
from lightningtrack.resolvers import accounts, workspaces
from lightningtrack.settings import Settings
from lightningtrack.tenancy import migration, provisioning
from lightningtrack.tenancy.config import WORKSPACE_APP
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import environment_for, unique

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^\[(\d+)/(\d+)\] ([a-z0-9-]+): (.*)$")
LATEST = migration.latest_migration(WORKSPACE_APP)

MakeWorkspaces = Callable[[int], Any]


@pytest.fixture
async def make_workspaces(settings: Settings, tenancy: Tenancy) -> AsyncIterator[MakeWorkspaces]:
    """Creates workspaces; drops them at the end so no later migration meets a broken one."""
    owner = await accounts.sign_up("Migrate", f"{unique('migrate')}@example.com", "correct horse")
    created: list[Workspace] = []

    async def make(count: int) -> list[Workspace]:
        made = [
            await workspaces.create_workspace(settings, owner, "Migrate", unique("mig"), None)
            for _ in range(count)
        ]
        created.extend(made)
        return made

    yield make
    for workspace in created:
        await provisioning.drop_workspace_database(
            settings, tenancy.pools, str(workspace.region), workspace.db_name
        )
        await Membership.filter(workspace_id=workspace.id).delete()
        await Workspace.filter(id=workspace.id).delete()


async def outdate(tenancy: Tenancy, workspace: Workspace, *, broken: bool = False) -> None:
    """Empty the workspace's database, as if it had never been migrated; ``broken`` also
    takes the name of the ``project`` table by a view, so that migrating it must fail."""
    async with tenancy.workspace(workspace) as client:
        sqlite = client.capabilities.dialect == "sqlite"
        if sqlite:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        else:
            sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
        _, rows = await client.execute_query(sql)
        tables = [row["name"] for row in rows]
        assert {"project", "tortoise_migrations"} <= set(tables)
        if sqlite:
            # Dropped in any order, the tables' foreign keys would trip each other up.
            await client.execute_script("PRAGMA foreign_keys = OFF")
        try:
            for table in tables:
                await client.execute_script(f'DROP TABLE "{table}"{"" if sqlite else " CASCADE"}')
        finally:
            if sqlite:
                await client.execute_script("PRAGMA foreign_keys = ON")
        if broken:
            await client.execute_script("CREATE VIEW project AS SELECT 1 AS id")
    await Workspace.filter(id=workspace.id).update(schema_version=None, migrated_at=None)


async def test_one_broken_workspace_does_not_stop_the_others(
    settings: Settings,
    tenancy: Tenancy,
    make_workspaces: MakeWorkspaces,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """19 outdated workspaces migrate; the broken one is reported and left unrecorded."""
    created: list[Workspace] = await make_workspaces(20)
    broken = created[7]
    for workspace in created:
        await outdate(tenancy, workspace, broken=workspace is broken)
    mine = {workspace.slug for workspace in created}

    running = peak = 0
    original = migration.migrate_workspace_client

    async def counted(client: BaseDBAsyncClient, workspace_id: uuid.UUID) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.01)
            return await original(client, workspace_id)
        finally:
            running -= 1

    monkeypatch.setattr(migration, "migrate_workspace_client", counted)
    lines: list[str] = []
    report = await migration.migrate_workspaces(
        settings, tenancy.pools, concurrency=4, progress=lines.append
    )

    assert sorted(slug for slug in report.migrated if slug in mine) == sorted(mine - {broken.slug})
    assert {slug for slug in report.failed if slug in mine} == {broken.slug}
    assert not report.ok
    assert 2 <= peak <= 4

    # One progress line per workspace of the landlord, numbered 1..total.
    total = await Workspace.all().count()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert sorted(int(m[1]) for m in parsed if m) == list(range(1, total + 1))
    assert {int(m[2]) for m in parsed if m} == {total}
    outcomes = {m[3]: m[4] for m in parsed if m and m[3] in mine}
    assert len(outcomes) == 20
    assert outcomes.pop(broken.slug).startswith("FAILED: ")
    assert set(outcomes.values()) == {f"ok ({LATEST})"}

    for workspace in created:
        record = await Workspace.get(id=workspace.id)
        if workspace is broken:
            assert (record.schema_version, record.migrated_at) == (None, None)
            continue
        assert record.schema_version == LATEST
        assert record.migrated_at is not None
        async with tenancy.workspace(workspace) as client:
            await Project.create(key="AFTER", name="Created after the migration")
            assert await Project.all().values_list("key", flat=True) == ["AFTER"]
            _, rows = await client.execute_query("SELECT name FROM tortoise_migrations")
            assert LATEST in {row["name"] for row in rows}


async def test_migrating_again_has_nothing_to_do(
    settings: Settings, tenancy: Tenancy, make_workspaces: MakeWorkspaces
) -> None:
    """A current workspace is left as it is: its rows survive and it is reported migrated."""
    [workspace] = await make_workspaces(1)
    async with tenancy.workspace(workspace):
        await Project.create(key="KEEP", name="Kept")
    report = await migration.migrate_workspaces(settings, tenancy.pools, concurrency=4)
    assert workspace.slug in report.migrated
    async with tenancy.workspace(workspace):
        assert await Project.all().values_list("key", flat=True) == ["KEEP"]


async def test_cli_migrate_exits_1_and_names_the_broken_workspace(
    settings: Settings, tenancy: Tenancy, make_workspaces: MakeWorkspaces, run_prefix: str
) -> None:
    """The real command: its exit code and stderr are what an operator's script relies on."""
    healthy, broken = await make_workspaces(2)
    await outdate(tenancy, healthy)
    await outdate(tenancy, broken, broken=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith("LT_")}
    env.update(environment_for(settings.data_dir, run_prefix))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lightningtrack",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    stdout, stderr = out.decode(), err.decode()

    assert process.returncode == 1, stderr
    assert re.search(rf"^  failed: {broken.slug}: ", stderr, re.MULTILINE), stderr
    assert re.search(rf"^\[\d+/\d+\] {healthy.slug}: ok \({LATEST}\)$", stdout, re.MULTILINE)
    assert "Traceback" not in stdout
    record = await Workspace.get(id=healthy.id)
    assert record.schema_version == LATEST
    async with tenancy.workspace(healthy):
        assert await Project.all().count() == 0
