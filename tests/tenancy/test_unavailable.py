"""A workspace whose database cannot be reached answers a clear error, never a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lightningtrack.models.landlord import Workspace
from lightningtrack.settings import Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import BACKEND, Client
from tests.tracking.conftest import create_project


async def _take_away(settings: Settings, tenancy: Tenancy, slug: str) -> str:
    """Remove the workspace's database from under it; returns where it was."""
    workspace = await Workspace.get(slug=slug)
    url = databases.workspace_url(settings, workspace)
    await tenancy.pools.discard(url)
    if BACKEND == "postgres":
        async with databases.admin_connection(settings.database_url) as admin:
            await admin.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
        return str(url.database)
    Path(url.path).unlink()  # noqa: ASYNC240 - a test, one local file
    return url.path


async def test_a_missing_workspace_database_is_workspace_unavailable(
    settings: Settings, tenancy: Tenancy, owner: Client, caplog: pytest.LogCaptureFixture
) -> None:
    await create_project(owner)
    assert owner.workspace is not None
    where = await _take_away(settings, tenancy, owner.workspace)
    caplog.set_level(logging.WARNING)
    read = await owner.post("{ projects { totalCount } }")
    write = await owner.post(
        'mutation { projectCreate(input: {key: "GONE", name: "G"}) { project { id } } }'
    )
    for body in (read, write):
        error = body["errors"][0]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["reason"] == "WORKSPACE_UNAVAILABLE"
        assert "try again" in error["message"]
        assert "Traceback" not in str(body)
    # One line each, naming the database, without a traceback.
    lines = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(lines) == 2
    assert all(r.exc_info is None and where in r.getMessage() for r in lines)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    if BACKEND != "postgres":
        assert not Path(where).exists()  # noqa: ASYNC240 - not re-created, empty
