"""The billing migrations upgrade a landlord that holds workspaces: every existing row reads
as a subscription not set to end, and nothing that hangs off a workspace (memberships,
on SQLite's table rebuilds) is lost."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise.connection import get_connections
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.config import LANDLORD, LANDLORD_APP, make_client
from lightningtrack.tenancy.runtime import Tenancy

WORKSPACE_ROW = """
INSERT INTO workspace (id, slug, name, region, status, db_name, created_at, updated_at)
VALUES ('{id}', '{slug}', 'Old', 'US', 'ACTIVE', '{slug}', '2026-01-01 00:00:00+00:00',
        '2026-01-01 00:00:00+00:00')
"""
ACCOUNT_ROW = """
INSERT INTO account (id, name, email, email_key, password_hash, email_verified, created_at,
                     updated_at)
VALUES ('{id}', 'Ann', 'ann@example.com', 'ann@example.com', 'x', {false},
        '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')
"""
MEMBERSHIP_ROW = """
INSERT INTO membership (workspace_id, account_id, role, joined_at)
SELECT id, '{account}', 'OWNER', '2026-01-01 00:00:00+00:00' FROM workspace
"""


@pytest.fixture
async def scratch_landlord(
    settings: Settings, tenancy: Tenancy, tmp_path: Path
) -> AsyncIterator[DatabaseURL]:
    """An empty landlord database of its own, beside the run's (same server or folder); the
    run's Tortoise is started, and the scratch one is bound only while it is migrated."""
    if settings.database_url.engine == "sqlite":
        yield DatabaseURL(engine="sqlite", path=str(tmp_path / "landlord.sqlite3"))
        return
    name = f"{databases.name_prefix(settings)}_upgrade_{secrets.token_hex(3)}"
    url = settings.database_url.with_database(name)
    await databases.create_database(url)
    try:
        yield url
    finally:
        await databases.drop_database(url)


async def _in_own_context(url: DatabaseURL) -> list[dict[str, object]]:
    client = make_client(url, LANDLORD, maxsize=1)
    # The executor opens its transactions by the connection's name: bind the scratch
    # client under it, in this task's context only.
    token = get_connections().set(LANDLORD, client)
    try:
        executor = MigrationExecutor(client, {LANDLORD: LANDLORD_APP})
        await executor.migrate([MigrationTarget(app_label=LANDLORD, name="0002_billing")])
        for slug in ("first", "second"):
            await client.execute_script(WORKSPACE_ROW.format(id=_uuid(), slug=slug))
        account = _uuid()
        false = "0" if url.engine == "sqlite" else "FALSE"
        await client.execute_script(ACCOUNT_ROW.format(id=account, false=false))
        await client.execute_script(MEMBERSHIP_ROW.format(account=account))
        await MigrationExecutor(client, {LANDLORD: LANDLORD_APP}).migrate()
        _, rows = await client.execute_query(
            "SELECT slug, cancel_at_period_end, cancel_at, "
            "(SELECT COUNT(*) FROM membership m WHERE m.workspace_id = w.id) AS members "
            "FROM workspace w ORDER BY slug"
        )
        return [dict(row) for row in rows]
    finally:
        get_connections().reset(token)
        await client.close()


def _uuid() -> str:
    return f"{secrets.token_hex(4)}-0000-4000-8000-{secrets.token_hex(6)}"


async def test_the_billing_migrations_upgrade_existing_workspaces(
    scratch_landlord: DatabaseURL,
) -> None:
    rows = await asyncio.create_task(_in_own_context(scratch_landlord))
    found = [(r["slug"], r["cancel_at_period_end"], r["cancel_at"], r["members"]) for r in rows]
    assert found == [("first", False, None, 1), ("second", False, None, 1)]
