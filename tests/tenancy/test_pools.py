"""The pool registry: a global cap on connections, eviction, waiting, idle closing."""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from tortoise.transactions import in_transaction

from lightningtrack.models.landlord import Workspace
from lightningtrack.models.workspace import Project
from lightningtrack.resolvers import accounts, workspaces
from lightningtrack.settings import DatabaseURL, Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.binding import bound
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.pools import PoolRegistry
from lightningtrack.tenancy.runtime import Tenancy
from lightningtrack.tenancy.serial import OneAtATimeClient
from tests.conftest import BACKEND, unique

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

# 4 connections, 2 per pool: at most 2 pools leased at once.
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
        max_connections=MAX_CONNECTIONS, per_pool=PER_POOL, idle_seconds=IDLE_SECONDS, headroom=0
    )
    try:
        yield pools
    finally:
        await pools.close_all()


async def read(pools: PoolRegistry, target: Target, hold: float = 0.0) -> list[str]:
    """Lease the target's client and run two queries on it at once; keep it for ``hold``."""
    async with pools.lease(target.url) as client:
        assert held(pools) <= pools.reserved <= MAX_CONNECTIONS
        with bound(target.workspace.id, client):
            first, second = await asyncio.gather(
                Project.all().values_list("key", flat=True),
                Project.all().values_list("key", flat=True),
            )
            await asyncio.sleep(hold)
        assert held(pools) <= pools.reserved <= MAX_CONNECTIONS
        return [*first, *second]


def pool_client(client: BaseDBAsyncClient) -> BaseDBAsyncClient:
    """The pool's own client behind a lease's (on PostgreSQL, one at a time)."""
    return client.pool_client if isinstance(client, OneAtATimeClient) else client


def held(pools: PoolRegistry) -> int:
    """Connections the registry's open pools hold now."""
    return sum(entry.held() for entry in pools._entries.values())


async def test_open_pools_never_exceed_the_cap(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """Six workspaces through room for two leased pools: evicted, never over the cap."""
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            assert held(registry) <= registry.reserved <= MAX_CONNECTIONS
            peak = max(peak, registry.reserved)
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
    assert peak == MAX_CONNECTIONS
    assert registry.open_pools <= MAX_CONNECTIONS
    assert registry.opened - registry.evicted == registry.open_pools
    assert registry.evicted >= len(targets)


async def test_lease_waits_while_every_pool_is_leased(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """A new workspace waits for a returned pool rather than exceed the cap."""
    first, second, third = targets[:3]
    async with registry.lease(first.url) as first_client:
        with pytest.raises(RuntimeError, match="done with the second"):
            async with registry.lease(second.url) as second_client:
                waiting = asyncio.create_task(read(registry, third))
                await asyncio.sleep(0.2)
                assert not waiting.done()
                assert registry.open_pools == 2
                # A workspace whose pool is open is lent at once, even now.
                async with asyncio.timeout(1), registry.lease(first.url) as again:
                    assert pool_client(again) is pool_client(first_client)
                # The second pool keeps a connection when it is returned: room is short.
                with bound(second.workspace.id, second_client):
                    assert await Project.all().values_list("key", flat=True) == [second.marker]
                # Leaving by an exception returns the lease too.
                raise RuntimeError("done with the second")
        assert await asyncio.wait_for(waiting, 10) == [third.marker] * 2
        # With first's lease running, each lease that ends leaves room for one more: the
        # second pool went for the third's lease, the third's as it ended.
        assert registry.open_pools == 1
        assert registry.evicted == 2
        # The pool still leased was not the one evicted.
        with bound(first.workspace.id, first_client):
            assert await Project.all().values_list("key", flat=True) == [first.marker]


async def test_pools_whose_connections_closed_cost_no_room(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """Room is counted in connections: idle pools that hold none are kept, not evicted."""
    for target in targets[:3]:
        assert await read(registry, target) == [target.marker] * 2
        # The pool's idle connections close after IDLE_SECONDS (asyncpg's inactive
        # lifetime; SQLite keeps its one).
        await asyncio.sleep(IDLE_SECONDS * 2)
    assert registry.open_pools == 3 > MAX_CONNECTIONS // PER_POOL
    assert registry.evicted == 0
    assert held(registry) <= registry.reserved <= MAX_CONNECTIONS


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
    assert registry.evicted >= len(targets) - MAX_CONNECTIONS // PER_POOL


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
            assert conn.get_server_pid() == pid  # the lease keeps its one connection
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
    # The lease returned its connection to the pool with the transaction still open.
    async with registry.lease(target.url) as client, client.acquire_connection() as conn:
        assert conn.get_server_pid() == pid  # the pool holds the one connection
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None


@pytest.mark.skipif(BACKEND != "postgres", reason="asyncpg's pool")
async def test_a_lease_runs_its_statements_on_one_connection(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """Concurrent statements of a lease take one connection in turn; transactions their own."""
    target = targets[0]
    pid_sql = "SELECT pg_backend_pid() AS pid, pg_sleep(0.02)"
    async with registry.lease(target.url) as client:
        results = await asyncio.gather(*(client.execute_query_dict(pid_sql) for _ in range(4)))
        pids = {rows[0]["pid"] for rows in results}
        assert len(pids) == 1
        pool = pool_client(client)._pool
        assert pool.get_size() == 1

        with bound(target.workspace.id, client):
            async with in_transaction(WORKSPACE) as transaction:
                inside = (await transaction.execute_query_dict(pid_sql))[0]["pid"]
                # Statements outside the transaction go on meanwhile, on another one.
                outside = (await client.execute_query_dict(pid_sql))[0]["pid"]
        assert outside != inside
        assert pool.get_size() == 2
        # None is held between statements.
        assert pool.get_idle_size() == 2


@pytest.mark.skipif(BACKEND != "postgres", reason="asyncpg's pool")
async def test_a_lease_replaces_its_connection_when_the_server_drops_it(
    settings: Settings, registry: PoolRegistry, targets: list[Target]
) -> None:
    """The lease's next statement runs on a new connection; a lost one is not returned."""
    target = targets[1]
    pid_sql = "SELECT pg_backend_pid() AS pid"

    async def drop(pid: int) -> None:
        async with databases.admin_connection(settings.database_url) as admin:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.2)  # asyncpg sees the connection go

    async with registry.lease(target.url) as client:
        pid = (await client.execute_query_dict(pid_sql))[0]["pid"]
        await drop(pid)
        replaced = (await client.execute_query_dict(pid_sql))[0]["pid"]
        assert replaced != pid
        # Dropped while the lease holds it, and the lease ends with no statement after.
        await drop(replaced)
    async with registry.lease(target.url) as client:
        assert (await client.execute_query_dict(pid_sql))[0]["pid"] not in {pid, replaced}
    assert pool_client(client)._pool.get_idle_size() == pool_client(client)._pool.get_size()


async def test_concurrent_transactions_of_one_workspace_all_finish(
    registry: PoolRegistry, targets: list[Target]
) -> None:
    """More leases than the pool has connections, each reading then writing in a
    transaction: none keeps a connection while it waits for another."""
    target = targets[2]

    async def count_projects() -> int:
        return await Project.all().count()

    async def work(number: int) -> None:
        async with registry.lease(target.url) as client, asyncio.TaskGroup() as group:
            with bound(target.workspace.id, client):
                group.create_task(count_projects())
                assert await Project.filter(key=target.marker).exists()
                async with in_transaction(WORKSPACE):
                    await Project.create(key=f"T{number}", name="Concurrent")
                    await asyncio.sleep(0.01)

    async with asyncio.timeout(20):
        await asyncio.gather(*(work(n) for n in range(4 * PER_POOL)))
    async with registry.lease(target.url) as client:
        with bound(target.workspace.id, client):
            assert await Project.filter(name="Concurrent").count() == 4 * PER_POOL


async def test_returned_leases_make_room_for_new_workspaces_in_the_background(
    targets: list[Target],
) -> None:
    """With headroom for one more lease, idle pools close as leases end (the least used
    first, and among those used as often the most recent), so that the next workspace
    finds room without closing anything."""
    pools = PoolRegistry(
        max_connections=MAX_CONNECTIONS, per_pool=PER_POOL, idle_seconds=60, headroom=1
    )
    try:
        first, second, third, fourth = (targets[i] for i in (3, 4, 5, 0))
        for target in (first, second, third):
            assert await read(pools, target) == [target.marker] * 2
        # As third's lease ended, first, second and third held a connection each: one
        # more lease would not have fit, so one of them, used once as the others were and
        # the latest, third, was closed.
        await asyncio.sleep(0.1)
        assert pools.evicted == 1
        assert set(pools._entries) == {pools._key(first.url), pools._key(second.url)}
        async with pools.lease(fourth.url):
            # fourth's lease found room: nothing was closed on its way in.
            assert pools.evicted == 1
    finally:
        await pools.close_all()


async def visit(pools: PoolRegistry, target: Target) -> None:
    """Lease the target's client and find its marker project there."""
    async with pools.lease(target.url) as client:
        with bound(target.workspace.id, client):
            assert await Project.filter(key=target.marker).exists()


def open_keys(pools: PoolRegistry, *chosen: Target) -> tuple[set[str], set[str]]:
    return set(pools._entries), {pools._key(target.url) for target in chosen}


async def test_the_pools_used_most_stay_and_of_equals_the_latest_goes(
    targets: list[Target],
) -> None:
    """Room is made by closing the least used pools; among pools used as often, the one
    used last (a workspace seen once, as in a sweep over every workspace, goes before the
    ones that were there)."""
    pools = PoolRegistry(max_connections=4, per_pool=2, idle_seconds=60, headroom=0)
    a, b, c, d, e = targets[:5]
    try:
        for target in (a, a, a, b, c):
            await visit(pools, target)
        assert held(pools) == 3 and pools.evicted == 0
        # d's lease counts 2: one of the three idle pools must close. b and c were used
        # once each, c the latest.
        await visit(pools, d)
        assert pools.evicted == 1
        assert operator.eq(*open_keys(pools, a, b, d))
        await visit(pools, e)
        assert operator.eq(*open_keys(pools, a, b, e))
        # Used twice, d now outweighs b and e.
        await visit(pools, d)
        await visit(pools, d)
        assert operator.eq(*open_keys(pools, a, b, d))
        assert held(pools) <= pools.reserved <= 4
    finally:
        await pools.close_all()


async def test_workspaces_taking_turns_find_pools_open(targets: list[Target]) -> None:
    """Six workspaces in turn through room for four: least-recently-used order would
    close each pool just before its turn came back and open six every round; here the
    pools that stay find their connection open on every round."""
    pools = PoolRegistry(max_connections=4, per_pool=1, idle_seconds=60, headroom=0)
    try:
        opened = []
        for _ in range(4):
            before = pools.opened
            for target in targets:
                await visit(pools, target)
            opened.append(pools.opened - before)
        assert opened[0] == len(targets)
        assert all(count <= len(targets) - 3 for count in opened[1:]), opened
        assert held(pools) <= 4
    finally:
        await pools.close_all()


async def test_counts_of_use_fade(targets: list[Target]) -> None:
    """Every 10 leases per connection of the cap, each workspace's count is halved and a
    workspace used once since is forgotten: use long past does not keep a pool open."""
    pools = PoolRegistry(max_connections=1, per_pool=1, idle_seconds=60, headroom=0)
    a, b, c = targets[:3]
    try:
        for target in (a, a, a, a, a, a, a, b, b, c):
            async with pools.lease(target.url):
                pass
        assert pools._uses == {pools._key(a.url): 3, pools._key(b.url): 1}
    finally:
        await pools.close_all()


@pytest.mark.skipif(BACKEND != "postgres", reason="OneAtATimeClient serves PostgreSQL leases")
async def test_a_lease_counts_two_connections_and_its_transactions_take_turns(
    targets: list[Target],
) -> None:
    """A lease takes two connections at most at once (its statements one at a time, and
    one transaction at a time), so that is what it counts against the cap, whatever the
    pool's size: three workspaces are leased at once within 6 connections with pools of
    4, and a lease's two concurrent transactions run one after the other."""
    pools = PoolRegistry(max_connections=6, per_pool=4, idle_seconds=60, headroom=0)
    a, b, c = targets[:3]
    order: dict[str, list[str]] = {target.marker: [] for target in (a, b, c)}
    peak = 0
    most_leased = 0

    async def transaction(target: Target, client: BaseDBAsyncClient, name: str) -> None:
        nonlocal peak
        with bound(target.workspace.id, client):
            async with in_transaction(WORKSPACE):
                order[target.marker].append(f"{name} begins")
                await Project.create(key=f"{name}{target.marker}", name="Turns")
                await asyncio.gather(*(Project.all().count() for _ in range(3)))
                peak = max(peak, pool_client(client)._pool.get_size())
                await asyncio.sleep(0.05)
                order[target.marker].append(f"{name} ends")

    async def busy(target: Target) -> None:
        nonlocal most_leased
        async with pools.lease(target.url) as client:
            assert pools.reserved <= 6
            most_leased = max(most_leased, pools.leased)
            await asyncio.sleep(0.01)
            with bound(target.workspace.id, client):
                await asyncio.gather(
                    transaction(target, client, "S"),
                    transaction(target, client, "T"),
                    *(Project.all().count() for _ in range(4)),
                )

    try:
        async with asyncio.timeout(20):
            await asyncio.gather(busy(a), busy(b), busy(c))
        assert most_leased == 3
        assert peak <= 2
        for target in (a, b, c):
            async with pools.lease(target.url) as client, asyncio.timeout(5):
                with bound(target.workspace.id, client):
                    assert await Project.filter(name="Turns").count() == 2
        # Each transaction ended before the next of its lease began.
        for steps in order.values():
            assert steps in (
                ["S begins", "S ends", "T begins", "T ends"],
                ["T begins", "T ends", "S begins", "S ends"],
            ), steps
    finally:
        await pools.close_all()


async def test_returned_leases_keep_room_for_as_many_new_ones_as_are_running(
    targets: list[Target],
) -> None:
    """A close waits for the server's backend to exit, and the leases that arrive meanwhile
    are about as many as those running: as a lease ends, idle pools close until there is
    room for that many new workspaces, more than the configured headroom when busy."""
    pools = PoolRegistry(max_connections=7, per_pool=1, idle_seconds=60, headroom=0)
    running, idle = targets[:3], targets[3:]
    try:
        for target in idle:
            await visit(pools, target)
        release = asyncio.Event()
        leased = asyncio.Event()
        ready: list[Target] = []

        async def hold(target: Target) -> None:
            async with pools.lease(target.url) as client:
                with bound(target.workspace.id, client):
                    assert await Project.filter(key=target.marker).exists()
                ready.append(target)
                if len(ready) == len(running):
                    leased.set()
                await release.wait()

        holders = [asyncio.create_task(hold(target)) for target in running[:2]]
        last = asyncio.create_task(hold(running[2]))
        await asyncio.wait_for(leased.wait(), 10)
        # Three leases and three idle pools, a connection each: 6 of 7, no room short.
        assert pools.reserved == 6 and pools.evicted == 0
        # A fourth idle pool, running[2]'s, once its lease ends while two go on: 6 + room
        # for 2 new leases is one more than the cap.
        last.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await last
        assert pools.leased == 2
        await asyncio.sleep(0.1)  # the background close
        # 2 leased + 3 of the 4 idle pools: room for the 2 running, 1 was closed.
        assert pools.evicted == 1
        assert pools.max_connections - pools.reserved == 2
        release.set()
        await asyncio.gather(*holders)
    finally:
        await pools.close_all()
