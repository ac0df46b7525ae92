"""The pool registry: a global cap on open pools and connections, waiting, idle closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from lightningtrack.models.landlord import Workspace
from lightningtrack.models.workspace import Project
from lightningtrack.resolvers import accounts, workspaces
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.binding import bound
from lightningtrack.tenancy.pools import PoolRegistry
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import BACKEND, unique

# 4 connections, 2 per pool: at most 2 pools open at once.
MAX_CONNECTIONS = 4
PER_POOL = 2
IDLE_SECONDS = 0.2


@dataclass(frozen=True)
class Target:
    """One workspace database and the marker row only it holds."""

    workspace: Workspace
    url: DatabaseURL
    marker: str


@pytest.fixture(scope="module")
async def targets(settings: Settings, tenancy: Tenancy) -> list[Target]:
    """Six fresh workspace databases: more than the small registries below may keep open."""
    owner = await accounts.sign_up("Pools", f"{unique('pools')}@example.com", "correct horse")
    found = []
    for number in range(6):
        workspace = await workspaces.create_workspace(settings, owner, "Pool", unique("pool"), None)
        marker = f"POOL{number}"
        async with tenancy.workspace(workspace):
            await Project.create(key=marker, name="Marker")
        url = databases.workspace_url(settings, workspace)
        # Only the registries under test may hold connections to these databases.
        await tenancy.pools.discard(url)
        found.append(Target(workspace, url, marker))
    return found


@pytest.fixture
async def registry() -> AsyncIterator[PoolRegistry]:
    pools = PoolRegistry(
        max_connections=MAX_CONNECTIONS, per_pool=PER_POOL, idle_seconds=IDLE_SECONDS
    )
    assert pools.max_pools == 2
    try:
        yield pools
    finally:
        await pools.close_all()


async def read(pools: PoolRegistry, target: Target, hold: float = 0.0) -> list[str]:
    """Lease the target's client and run two queries on it at once; keep it for ``hold``."""
    async with pools.lease(target.url) as client:
        assert pools.open_pools <= pools.max_pools
        with bound(target.workspace.id, client):
            first, second = await asyncio.gather(
                Project.all().values_list("key", flat=True),
                Project.all().values_list("key", flat=True),
            )
            await asyncio.sleep(hold)
        assert pools.open_pools <= pools.max_pools
        return [*first, *second]


async def test_open_pools_never_exceed_the_cap(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """Six workspaces through room for two pools: pools are evicted, never over the cap."""
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, registry.open_pools)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        for target in targets:
            assert await read(registry, target) == [target.marker] * 2
        chosen = [targets[i % len(targets)] for i in range(24)]
        results = await asyncio.gather(*(read(registry, t, hold=0.01) for t in chosen))
    finally:
        done.set()
        await watcher
    for target, keys in zip(chosen, results, strict=True):
        assert keys == [target.marker] * 2
    assert peak == registry.max_pools
    assert registry.open_pools <= registry.max_pools
    assert registry.opened - registry.evicted == registry.open_pools
    assert registry.evicted >= len(targets)


async def test_lease_waits_while_every_pool_is_leased(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """A new workspace waits for a returned pool rather than exceed the cap."""
    first, second, third = targets[:3]
    async with registry.lease(first.url) as first_client:
        with pytest.raises(RuntimeError, match="done with the second"):
            async with registry.lease(second.url):
                waiting = asyncio.create_task(read(registry, third))
                await asyncio.sleep(0.2)
                assert not waiting.done()
                assert registry.open_pools == 2
                # A workspace whose pool is open is lent at once, even now.
                async with asyncio.timeout(1), registry.lease(first.url) as again:
                    assert again is first_client
                # Leaving by an exception returns the lease too.
                raise RuntimeError("done with the second")
        assert await asyncio.wait_for(waiting, 10) == [third.marker] * 2
        assert registry.open_pools == 2
        assert registry.evicted == 1
        # The pool still leased was not the one evicted.
        with bound(first.workspace.id, first_client):
            assert await Project.all().values_list("key", flat=True) == [first.marker]


async def test_close_idle_closes_only_pools_idle_long_enough(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """Idle pools give their connections back; recently used or leased ones stay open."""
    first, second = targets[:2]
    await read(registry, first)
    await read(registry, second)
    assert await registry.close_idle() == 0
    assert registry.open_pools == 2

    async with registry.lease(second.url):
        await asyncio.sleep(IDLE_SECONDS * 1.5)
        assert await registry.close_idle() == 1
        assert registry.open_pools == 1
    await asyncio.sleep(IDLE_SECONDS * 1.5)
    assert await registry.close_idle() == 1
    assert registry.open_pools == 0

    # A closed pool is reopened on demand.
    assert await read(registry, first) == [first.marker] * 2
    assert registry.open_pools == 1


@pytest.mark.skipif(BACKEND != "postgres", reason="counts PostgreSQL backend connections")
async def test_server_connections_stay_under_the_cap(
    settings: Settings, registry: PoolRegistry, targets: list[Target]
) -> None:
    """The server never holds more than ``max_connections`` for these workspaces at once."""
    names = [str(target.url.database) for target in targets]
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        async with databases.admin_connection(settings.database_url) as conn:
            while not done.is_set():
                count = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname LIKE $1 || '_ws_%' AND datname = ANY($2::text[])",
                    databases.name_prefix(settings),
                    names,
                )
                peak = max(peak, count)

    async def busy(target: Target) -> None:
        async with registry.lease(target.url) as client, asyncio.TaskGroup() as group:
            for _ in range(PER_POOL + 1):
                group.create_task(client.execute_query("SELECT pg_sleep(0.03)"))

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.sleep(0.05)
        chosen = [targets[i % len(targets)] for i in range(18)]
        await asyncio.gather(*(busy(t) for t in chosen), *(read(registry, t) for t in chosen))
    finally:
        done.set()
        await watcher
    assert 2 <= peak <= MAX_CONNECTIONS
    assert registry.evicted >= len(targets) - registry.max_pools


@pytest.mark.skipif(BACKEND != "postgres", reason="asyncpg's pool release")
async def test_release_sends_nothing_but_rolls_back_an_open_transaction(
    settings: Settings, registry: PoolRegistry, targets: list[Target]
) -> None:
    """Returning a connection costs no reset query, and never leaks a transaction."""
    target = targets[0]
    async with registry.lease(target.url) as client:
        async with client.acquire_connection() as conn:
            pid = conn.get_server_pid()
            await conn.fetchval("SELECT 'marker-statement'")
        async with databases.admin_connection(settings.database_url) as admin:
            last = await admin.fetchrow(
                "SELECT query, state FROM pg_stat_activity WHERE pid = $1", pid
            )
        # With asyncpg's default reset the backend's last query would be
        # "SELECT pg_advisory_unlock_all(); CLOSE ALL; ...".
        assert last["query"] == "SELECT 'marker-statement'"
        assert last["state"] == "idle"

        async with client.acquire_connection() as conn:
            assert conn.get_server_pid() == pid  # the pool holds the one connection
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
        async with client.acquire_connection() as conn:
            assert conn.get_server_pid() == pid
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
