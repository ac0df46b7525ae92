"""The binding of a task to one workspace database: unbound fails loudly, bound never leaks."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from tortoise.connection import get_connection

from lightningtrack.errors import WorkspaceNotBound
from lightningtrack.models.landlord import Account, Membership, Workspace
from lightningtrack.models.workspace import Project
from lightningtrack.resolvers import workspaces as workspace_resolvers
from lightningtrack.settings import Settings
from lightningtrack.tenancy.binding import bound_workspace_id, is_bound
from lightningtrack.tenancy.config import LANDLORD, tortoise_config
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, signed_up, with_workspace

# A field whose resolver (``resolvers.workspaces.memberships_of``) the tests wrap to look
# at the binding from inside a request; the X-Workspace header binds the request.
WORKSPACES = "{ workspace { slug } workspaces { slug } }"


async def workspace_of(client: Client) -> Workspace:
    workspace: Workspace = await Workspace.get(slug=client.workspace)
    return workspace


async def project_keys() -> list[str]:
    return [project.key for project in await Project.all().order_by("key")]


async def landlord_tables(settings: Settings) -> set[str]:
    if settings.database_url.engine == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    rows = await get_connection(LANDLORD).execute_query_dict(sql)
    return {row["name"] for row in rows}


async def assert_unbound() -> None:
    assert not is_bound()
    with pytest.raises(WorkspaceNotBound):
        bound_workspace_id()
    with pytest.raises(WorkspaceNotBound):
        await Project.all()


async def test_unbound_query_raises_and_reaches_no_database(
    settings: Settings, tenancy: Tenancy, owner: Client
) -> None:
    """An unbound query must fail loudly, not read or write some default database."""
    workspace = await workspace_of(owner)
    async with tenancy.workspace(workspace):
        await Project.create(key="MARK", name="Marker")

    await assert_unbound()
    with pytest.raises(WorkspaceNotBound):
        await Project.create(key="LEAK", name="Written while unbound")
    with pytest.raises(WorkspaceNotBound):
        await Project.filter(key="MARK").count()

    # Nothing reached the workspace database, the landlord, or the unbound placeholder.
    async with tenancy.workspace(workspace):
        assert await project_keys() == ["MARK"]
    tables = await landlord_tables(settings)
    assert "workspace" in tables
    assert "project" not in tables
    placeholder = tortoise_config(settings)["connections"]["workspace"]["credentials"]
    assert not await asyncio.to_thread(Path(placeholder["file_path"]).exists)


async def test_unbound_query_in_a_request_is_an_internal_error(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resolver that queries a workspace model without X-Workspace gets no data at all."""
    seen: list[list[str]] = []

    async def reads_projects(account: Account) -> list[Membership]:
        seen.append(await project_keys())
        return []

    client = await signed_up(make_client)
    await with_workspace(client)
    client.workspace = None
    monkeypatch.setattr(workspace_resolvers, "memberships_of", reads_projects)
    body = await client.post("{ workspaces { slug } }")
    assert seen == []
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_request_unbinds_after_it_finishes(
    owner: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The binding lasts exactly as long as the operation, so the next work starts unbound."""
    workspace = await workspace_of(owner)
    original = workspace_resolvers.memberships_of
    seen: list[uuid.UUID] = []

    async def probe(account: Account) -> list[Membership]:
        seen.append(bound_workspace_id())
        return await original(account)

    monkeypatch.setattr(workspace_resolvers, "memberships_of", probe)
    await assert_unbound()
    data = await owner.gql(WORKSPACES)
    assert data["workspace"] == {"slug": owner.workspace}
    assert seen == [workspace.id]
    await assert_unbound()


async def test_request_unbinds_after_its_resolver_raised(
    owner: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing resolver must not leave the task bound to the workspace it failed in."""
    workspace = await workspace_of(owner)
    seen: list[uuid.UUID] = []

    async def failing(account: Account) -> list[Membership]:
        seen.append(bound_workspace_id())
        raise RuntimeError("resolver failed")

    monkeypatch.setattr(workspace_resolvers, "memberships_of", failing)
    error = await owner.error("{ workspaces { slug } }")
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert seen == [workspace.id]
    await assert_unbound()


async def test_workspace_block_unbinds_when_its_body_raises(
    tenancy: Tenancy, owner: Client
) -> None:
    """``tenancy.workspace`` resets the binding on the exception path too."""
    workspace = await workspace_of(owner)
    with pytest.raises(RuntimeError, match="body failed"):
        async with tenancy.workspace(workspace):
            assert bound_workspace_id() == workspace.id
            assert await project_keys() == []
            raise RuntimeError("body failed")
    await assert_unbound()


async def test_nested_binding_restores_the_outer_workspace(
    tenancy: Tenancy, owner: Client, other_workspace: Client
) -> None:
    """Leaving an inner binding returns to the outer one, not to unbound or the inner one."""
    outer = await workspace_of(owner)
    inner = await workspace_of(other_workspace)
    async with tenancy.workspace(outer):
        await Project.create(key="OUTER", name="Outer")
    async with tenancy.workspace(inner):
        await Project.create(key="INNER", name="Inner")

    async with tenancy.workspace(outer):
        with pytest.raises(RuntimeError, match="inner failed"):
            async with tenancy.workspace(inner):
                assert await project_keys() == ["INNER"]
                raise RuntimeError("inner failed")
        assert bound_workspace_id() == outer.id
        assert await project_keys() == ["OUTER"]
    await assert_unbound()


async def test_concurrent_tasks_see_only_their_own_workspace(
    tenancy: Tenancy, owner: Client, other_workspace: Client
) -> None:
    """Interleaved tasks bound to different workspaces never read each other's rows."""
    first = await workspace_of(owner)
    second = await workspace_of(other_workspace)
    markers = {first.id: "MARKA", second.id: "MARKB"}
    for workspace in (first, second):
        async with tenancy.workspace(workspace):
            await Project.create(key=markers[workspace.id], name="Marker")

    async def read(workspace: Workspace) -> tuple[uuid.UUID, list[str]]:
        async with tenancy.workspace(workspace):
            await asyncio.sleep(0)
            keys = await project_keys()
            await asyncio.sleep(0)
            keys += await project_keys()
            await asyncio.sleep(0)
            return bound_workspace_id(), keys

    chosen = [first if i % 2 == 0 else second for i in range(100)]
    results = await asyncio.gather(*(read(w) for w in chosen))
    for workspace, (bound_id, keys) in zip(chosen, results, strict=True):
        assert bound_id == workspace.id
        assert keys == [markers[workspace.id]] * 2
    await assert_unbound()


async def test_concurrent_requests_see_only_their_own_workspace(
    tenancy: Tenancy,
    owner: Client,
    other_workspace: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100 interleaved requests for two tenants: each is bound to its own header's workspace."""
    first = await workspace_of(owner)
    second = await workspace_of(other_workspace)
    markers = {first.id: "MARKA", second.id: "MARKB"}
    for workspace in (first, second):
        async with tenancy.workspace(workspace):
            await Project.create(key=markers[workspace.id], name="Marker")

    original = workspace_resolvers.memberships_of
    seen: list[tuple[uuid.UUID, uuid.UUID, list[str]]] = []

    async def probe(account: Account) -> list[Membership]:
        await asyncio.sleep(0)
        keys = await project_keys()
        await asyncio.sleep(0)
        seen.append((account.id, bound_workspace_id(), keys))
        return await original(account)

    monkeypatch.setattr(workspace_resolvers, "memberships_of", probe)
    clients = [owner if i % 2 == 0 else other_workspace for i in range(100)]
    results = await asyncio.gather(*(client.gql(WORKSPACES) for client in clients))

    for client, data in zip(clients, results, strict=True):
        assert data["workspace"] == {"slug": client.workspace}
        assert data["workspaces"] == [{"slug": client.workspace}]
    owner_of = {
        membership.account_id: membership.workspace_id
        for membership in await Membership.filter(workspace_id__in=list(markers))
    }
    assert len(seen) == 100
    assert sorted(markers[bound_id] for _, bound_id, _ in seen) == ["MARKA"] * 50 + ["MARKB"] * 50
    for account_id, bound_id, keys in seen:
        assert owner_of[account_id] == bound_id
        assert keys == [markers[bound_id]]
    await assert_unbound()
