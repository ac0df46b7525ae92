"""Provisioning: every workspace gets a database of its own, and failures leave nothing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lightningtrack.models.landlord import Membership, Workspace
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases, provisioning
from lightningtrack.tenancy.config import WORKSPACE_APP
from lightningtrack.tenancy.migration import latest_migration
from tests.conftest import WORKSPACE_CREATE, Client, signed_up, unique


def _sqlite_tables(path: str) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


async def tables_of(url: DatabaseURL) -> set[str]:
    """The tables of one database, read straight from the server or file, not through an app."""
    if url.engine == "sqlite":
        return await asyncio.to_thread(_sqlite_tables, url.path)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.user, password=url.password, database=url.database
    )
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows}


async def server_databases(settings: Settings) -> list[str]:
    server = databases.server_url(settings, "US")
    return await databases.list_databases(server, databases.name_prefix(settings))


def create_input(slug: str) -> dict[str, Any]:
    return {"input": {"name": "Provisioned", "slug": slug}}


async def test_new_workspace_has_a_database_of_its_own(
    settings: Settings, owner: Client, other_workspace: Client
) -> None:
    """Each workspace's rows live apart, in a copy of the template with the newest schema."""
    workspace = await Workspace.get(slug=owner.workspace)
    other = await Workspace.get(slug=other_workspace.workspace)
    url = databases.workspace_url(settings, workspace)
    other_url = databases.workspace_url(settings, other)

    names = await server_databases(settings)
    assert workspace.db_name != other.db_name
    assert {workspace.db_name, other.db_name} <= set(names)
    assert workspace.db_name == databases.new_database_name(settings, workspace.id)
    if settings.database_url.engine == "postgres":
        assert url.database == workspace.db_name
        assert url.database != settings.database_url.database
        assert await databases.database_exists(url)
    else:
        path = Path(url.path)
        assert await asyncio.to_thread(path.is_file)
        assert path.parent == Path(settings.workspace_database_url.path)
        assert path not in (Path(settings.database_url.path), Path(other_url.path))

    tables = await tables_of(url)
    assert {"project", "tortoise_migrations"} <= tables
    assert tables == await tables_of(databases.template_url(settings, "US"))
    assert "workspace" not in tables
    assert workspace.schema_version == latest_migration(WORKSPACE_APP)


async def test_failure_half_way_leaves_no_row_and_no_database(
    make_client: Any, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """A failure after the database exists drops it again, and the client learns nothing."""
    client = await signed_up(make_client)
    slug = unique("doomed")
    before = await server_databases(settings)
    during: list[list[str]] = []

    async def failing(**kwargs: Any) -> Membership:
        during.append(await server_databases(settings))
        raise RuntimeError("injected failure: membership table on fire")

    monkeypatch.setattr(Membership, "create", failing)
    body = await client.post(WORKSPACE_CREATE, create_input(slug))
    monkeypatch.undo()

    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert set(error["extensions"]) <= {"code", "requestId"}
    text = json.dumps(body)
    assert "injected" not in text
    assert "Traceback" not in text

    # The database did exist half-way, and is gone again; so is the workspace row.
    [names] = during
    [created] = set(names) - set(before)
    assert created.startswith(f"{databases.name_prefix(settings)}_ws_")
    assert await server_databases(settings) == before
    assert not await Workspace.exists(slug=slug)
    assert (await client.gql("{ workspaces { slug } }"))["workspaces"] == []


async def test_taken_slug_is_a_conflict_and_leaves_no_database(
    make_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second workspace with a taken slug is refused before any database is made."""
    first = await signed_up(make_client)
    second = await signed_up(make_client, "Bea")
    slug = unique("taken")
    await first.gql(WORKSPACE_CREATE, create_input(slug))
    before = await server_databases(settings)
    made: list[str] = []
    original = provisioning.create_workspace_database

    async def recorded(*args: Any) -> str:
        name = await original(*args)
        made.append(name)
        return name

    monkeypatch.setattr(provisioning, "create_workspace_database", recorded)
    for client in (first, second):
        error = await client.error(WORKSPACE_CREATE, create_input(slug))
        assert error["extensions"] == {"code": "CONFLICT", "field": "input.slug"}
    assert made == []
    assert await server_databases(settings) == before
    assert await Workspace.filter(slug=slug).count() == 1


async def test_conflict_found_at_insert_drops_the_new_database(
    make_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the slug is taken between the check and the insert, the copy made is dropped."""
    first = await signed_up(make_client)
    second = await signed_up(make_client, "Bea")
    slug = unique("race")
    await first.gql(WORKSPACE_CREATE, create_input(slug))
    existing = await Workspace.get(slug=slug)
    before = await server_databases(settings)

    async def not_taken(**kwargs: Any) -> bool:
        return False

    made: list[str] = []
    original = provisioning.create_workspace_database

    async def recorded(*args: Any) -> str:
        name = await original(*args)
        made.append(name)
        return name

    monkeypatch.setattr(Workspace, "exists", not_taken)
    monkeypatch.setattr(provisioning, "create_workspace_database", recorded)
    error = await second.error(WORKSPACE_CREATE, create_input(slug))
    monkeypatch.undo()

    assert error["extensions"] == {"code": "CONFLICT", "field": "input.slug"}
    assert len(made) == 1
    assert made[0] not in await server_databases(settings)
    assert await server_databases(settings) == before
    assert await Workspace.get(slug=slug) == existing
    assert existing.db_name in before


async def test_concurrent_creates_of_one_slug_make_one_workspace(
    make_client: Any, settings: Settings
) -> None:
    """Two racing creates: one workspace, one CONFLICT, and exactly one new database."""
    first = await signed_up(make_client)
    second = await signed_up(make_client, "Bea")
    slug = unique("both")
    before = await server_databases(settings)

    bodies = await asyncio.gather(
        first.post(WORKSPACE_CREATE, create_input(slug)),
        second.post(WORKSPACE_CREATE, create_input(slug)),
    )
    codes = sorted(
        body["errors"][0]["extensions"]["code"] if body.get("errors") else "OK" for body in bodies
    )
    assert codes == ["CONFLICT", "OK"]
    workspace = await Workspace.get(slug=slug)
    assert sorted(set(await server_databases(settings)) - set(before)) == [workspace.db_name]
    assert len(await server_databases(settings)) == len(before) + 1
