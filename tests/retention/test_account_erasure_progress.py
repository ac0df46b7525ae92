"""An account's erasure goes workspace by workspace: only to the workspaces the account
was in (as of the request, and those it left before), each done once; one whose database
cannot be reached (renamed away on PostgreSQL, a file that cannot be opened on SQLite)
holds back only the end of that erasure, is tried again on later sweeps, and near the
30-day deadline is logged as an error and counted in the metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from tortoise.connection import get_connections

from lightningtrack import clock
from lightningtrack.errors import Conflict
from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import (
    Account,
    ApiKey,
    ErasureProgress,
    Membership,
    Role,
    Session,
    Workspace,
    WorkspaceStatus,
)
from lightningtrack.resolvers import erasure
from lightningtrack.settings import Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.config import LANDLORD, LANDLORD_APP, make_client
from lightningtrack.tenancy.migration import _apply
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import BACKEND
from tests.integrators.conftest import API_KEY_CREATE, MEMBER_REMOVE
from tests.retention.conftest import (
    DAY,
    PASSWORD,
    SIGN_IN,
    VIEWER,
    MakePerson,
    Person,
    Sweep,
    about,
    create_project,
    create_workspace,
    join,
)
from tests.retention.test_account_erasure import DELETE, leave_traces

WAITING = "lightningtrack_account_erasures_waiting"


@contextlib.asynccontextmanager
async def unreachable(
    settings: Settings, tenancy: Tenancy, workspace: Workspace
) -> AsyncIterator[None]:
    """The workspace's database cannot be opened inside the block: on PostgreSQL it is
    renamed away, on SQLite a folder stands where its file was."""
    url = databases.workspace_url(settings, workspace)
    await tenancy.pools.discard(url)  # an open connection would keep working
    if url.engine == "postgres":
        away = f"{workspace.db_name[:55]}_away"
        async with databases.admin_connection(url) as conn:
            await conn.execute(f'ALTER DATABASE "{workspace.db_name}" RENAME TO "{away}"')
        try:
            yield
        finally:
            await tenancy.pools.discard(url)
            async with databases.admin_connection(url) as conn:
                await conn.execute(f'ALTER DATABASE "{away}" RENAME TO "{workspace.db_name}"')
        return
    await asyncio.to_thread(_hide, Path(url.path))
    try:
        yield
    finally:
        await tenancy.pools.discard(url)
        await asyncio.to_thread(_restore, Path(url.path))


def _hide(path: Path) -> None:
    """Move a SQLite file (and its WAL) aside, and put a folder in its place."""
    aside = path.with_name(path.name + ".away")
    aside.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", aside / f"db{suffix}")
    path.mkdir()


def _restore(path: Path) -> None:
    aside = path.with_name(path.name + ".away")
    shutil.rmtree(path)
    for suffix in ("", "-wal", "-shm"):
        if (aside / f"db{suffix}").exists():
            os.replace(aside / f"db{suffix}", f"{path}{suffix}")
    aside.rmdir()


async def traces_left(tenancy: Tenancy, workspace: Workspace, account_id: uuid.UUID) -> int:
    """Rows in the workspace's database that still name the account."""
    async with tenancy.workspace(workspace):
        return (
            await wsm.Issue.filter(creator_id=account_id).count()
            + await wsm.Issue.filter(assignee_id=account_id).count()
            + await wsm.Comment.filter(author_id=account_id).count()
            + await wsm.TimeEntry.filter(account_id=account_id).count()
        )


def waiting(deadline: str) -> float:
    return REGISTRY.get_sample_value(WAITING, {"deadline": deadline}) or 0.0


def visits(outcome: str) -> float:
    name = "lightningtrack_account_erasure_visits_total"
    return REGISTRY.get_sample_value(name, {"outcome": outcome}) or 0.0


async def progress(account_id: uuid.UUID) -> dict[uuid.UUID, ErasureProgress]:
    return {r.workspace_id: r for r in await ErasureProgress.filter(account_id=account_id)}


async def in_workspace_with_traces(ann: Person, bob: Person, name: str) -> Workspace:
    """A workspace of Bob's in which Ann, a member, leaves an issue, a comment, time."""
    workspace = await create_workspace(bob, name)
    await join(ann, workspace, Role.MEMBER)
    ann.client.workspace = workspace.slug
    await leave_traces(ann, (await create_project(bob))["id"], name.lower())
    return workspace


async def test_an_unreachable_workspace_holds_back_only_the_end_of_the_erasure(
    settings: Settings, tenancy: Tenancy, make_person: MakePerson, sweep: Sweep
) -> None:
    """The workspaces visited are those Ann was in when she asked, and the one she had
    left before; a stranger's workspace is never visited (it is unreachable too, and
    nothing waits for it). Ann is locked out at once; the reachable workspaces are done
    and stay done; the unreachable one is tried again after a delay, and when it answers
    the erasure ends."""
    t0 = clock.now()
    clock.freeze(t0)
    ann, bob, carol = [await make_person(n) for n in ("Ann", "Bob", "Carol")]
    kept = await in_workspace_with_traces(ann, bob, "Kept")
    ended = await in_workspace_with_traces(ann, bob, "Ended")
    left = await in_workspace_with_traces(ann, bob, "Left")
    stranger = await create_workspace(carol, "Stranger")
    ann.client.workspace = left.slug
    await ann.client.gql(MEMBER_REMOVE, {"id": (await ann.client.gql(VIEWER))["viewer"]["id"]})
    assert set(await progress(ann.account_id)) == {left.id}  # recorded as she left

    ann.client.workspace = None
    await ann.client.gql(DELETE, {"password": PASSWORD})
    assert set(await progress(ann.account_id)) == {left.id, kept.id, ended.id}
    # A membership that ends by any other path is still on the request's list.
    await Membership.filter(account_id=ann.account_id, workspace_id=ended.id).delete()
    await sweep(t0 + 6 * DAY)  # the reminder

    failed_before, waiting_before = visits("failed"), waiting("ahead")
    async with (
        unreachable(settings, tenancy, kept),
        unreachable(settings, tenancy, stranger),
    ):
        clock.freeze(t0 + 7 * DAY)
        assert about(await sweep(t0 + 7 * DAY), str(ann.account_id)) == [
            f"erase account: {ann.account_id}"
        ]
        assert await Account.exists(id=ann.account_id)
        rows = await progress(ann.account_id)
        assert set(rows) == {left.id, kept.id, ended.id}
        assert rows[left.id].done_at == rows[ended.id].done_at == t0 + 7 * DAY
        assert rows[kept.id].done_at is None and rows[kept.id].attempts == 1
        assert rows[kept.id].last_error
        assert rows[kept.id].next_attempt_at is not None
        assert rows[kept.id].next_attempt_at > t0 + 7 * DAY
        assert visits("failed") == failed_before + 1
        assert waiting("ahead") == waiting_before + 1
        for done in (left, ended):
            assert await traces_left(tenancy, done, ann.account_id) == 0

        # Locked out: nothing more can be written in her name, nor the erasure undone.
        assert not await Membership.exists(account_id=ann.account_id)
        assert not await Session.exists(account_id=ann.account_id)
        assert (await ann.client.gql(VIEWER))["viewer"] is None
        refused = await ann.client.error(
            SIGN_IN, {"input": {"email": ann.email, "password": PASSWORD}}
        )
        assert refused["extensions"]["code"] == "UNAUTHENTICATED"
        with pytest.raises(Conflict):
            await erasure.cancel_account_deletion(await Account.get(id=ann.account_id))

        # Before its delay the unreachable one is not tried again; the done ones never are.
        await sweep(t0 + 7 * DAY + timedelta(seconds=30))
        rows = await progress(ann.account_id)
        assert rows[kept.id].attempts == 1
        assert rows[left.id].done_at == t0 + 7 * DAY
        await sweep(t0 + 7 * DAY + timedelta(minutes=2))
        assert (await progress(ann.account_id))[kept.id].attempts == 2

    assert await traces_left(tenancy, kept, ann.account_id) == 3 + 1
    clock.freeze(t0 + 7 * DAY + timedelta(minutes=2))
    assert not await erasure.erase_account(settings, tenancy, ann.account_id)  # not yet due
    await sweep(t0 + 7 * DAY + timedelta(minutes=10))
    assert not await Account.exists(id=ann.account_id)
    assert await progress(ann.account_id) == {}
    assert await traces_left(tenancy, kept, ann.account_id) == 0
    assert waiting("ahead") == waiting_before
    await bob.sign_in()
    bob.client.workspace = kept.slug
    assert (await bob.client.gql("{ workspace { slug } }"))["workspace"]["slug"] == kept.slug


async def test_an_erasure_waiting_near_its_deadline_is_an_error_and_counted(
    settings: Settings,
    tenancy: Tenancy,
    make_person: MakePerson,
    sweep: Sweep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Thirty days from the request is the promise: a workspace still unreachable three
    days before is logged as an error (before, a warning), and the waiting erasure is
    counted as near, then passed, its deadline; the count goes once it is done."""
    t0 = clock.now()
    clock.freeze(t0)
    ann, bob = await make_person("Ann"), await make_person("Bob")
    blocked = await in_workspace_with_traces(ann, bob, "Blocked")
    # Paying: its own retention (an expired trial) stays out of the way.
    await Workspace.filter(id=blocked.id).update(status=WorkspaceStatus.ACTIVE)
    ann.client.workspace = None
    await ann.client.gql(DELETE, {"password": PASSWORD})
    assert (await Account.get(id=ann.account_id)).deletion_requested_at == t0
    await sweep(t0 + 6 * DAY)
    baseline = {d: waiting(d) for d in ("ahead", "near", "passed")}

    def logged(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == level and str(ann.account_id) in r.getMessage()
        ]

    async with unreachable(settings, tenancy, blocked):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lightningtrack"):
            await sweep(t0 + 7 * DAY)
        assert len(logged(logging.WARNING)) == 1 and logged(logging.ERROR) == []
        assert blocked.slug in logged(logging.WARNING)[0]
        assert waiting("ahead") == baseline["ahead"] + 1

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lightningtrack"):
            await sweep(t0 + 27 * DAY + timedelta(hours=1))
        [error] = logged(logging.ERROR)
        assert (t0 + 30 * DAY).isoformat() in error and blocked.slug in error
        assert waiting("near") == baseline["near"] + 1
        assert waiting("ahead") == baseline["ahead"]

        await sweep(t0 + 30 * DAY + timedelta(hours=1))
        assert waiting("passed") == baseline["passed"] + 1
        assert waiting("near") == baseline["near"]
        assert await Account.exists(id=ann.account_id)

    await sweep(t0 + 30 * DAY + timedelta(hours=3))
    assert not await Account.exists(id=ann.account_id)
    assert await traces_left(tenancy, blocked, ann.account_id) == 0
    assert {d: waiting(d) for d in baseline} == baseline


async def test_lock_out_ends_the_api_keys_of_the_account(
    settings: Settings, tenancy: Tenancy, make_person: MakePerson, sweep: Sweep
) -> None:
    """A key Ann created would keep writing in her name after the workspaces are done."""
    t0 = clock.now()
    clock.freeze(t0)
    ann, bob = await make_person("Ann"), await make_person("Bob")
    shared = await in_workspace_with_traces(ann, bob, "Shared")
    await Membership.filter(account_id=ann.account_id).update(role=Role.ADMIN)
    created = await ann.client.gql(
        API_KEY_CREATE, {"input": {"name": "ci", "scopes": ["WRITE"]}}, workspace=shared.slug
    )
    secret = created["apiKeyCreate"]["secret"]
    ann.client.workspace = None
    await ann.client.gql(DELETE, {"password": PASSWORD})
    await sweep(t0 + 6 * DAY)
    async with unreachable(settings, tenancy, shared):
        await sweep(t0 + 7 * DAY)
        assert not await ApiKey.exists(created_by_id=ann.account_id)
        body = await bob.client.post(
            "{ viewer { id } }", headers={"Authorization": f"Bearer {secret}"}
        )
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await sweep(t0 + 7 * DAY + timedelta(minutes=5))
    assert not await Account.exists(id=ann.account_id)


async def test_erasures_pending_at_the_upgrade_keep_every_workspace(
    settings: Settings, tmp_path: Path, run_prefix: str
) -> None:
    """Before the upgrade nobody recorded which workspaces an account had left: an
    erasure already requested is to visit every workspace, as it did before."""
    if BACKEND == "postgres":
        url = settings.database_url.with_database(f"{run_prefix}_upgrade_{uuid.uuid4().hex[:6]}")
        await databases.create_database(url)
    else:
        url = databases.DatabaseURL(engine="sqlite", path=str(tmp_path / "upgrade.sqlite3"))
    client = make_client(url, LANDLORD)
    handler = get_connections()
    token = handler.set(LANDLORD, client)
    try:
        await _apply_until(client, "0002_billing")
        pending, other = uuid.uuid4(), uuid.uuid4()
        workspaces = [uuid.uuid4() for _ in range(3)]
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for account in (pending, other):
            email = f"{account.hex}@example.com"
            await client.execute_query(
                "INSERT INTO account (id, name, email, email_key, password_hash, "
                "email_verified, created_at, updated_at, deletion_scheduled_at) "
                f"VALUES ({_marks(9)})",
                _values(
                    account,
                    "A",
                    email,
                    email,
                    "x",
                    False,
                    now,
                    now,
                    now if account == pending else None,
                ),
            )
        for n, workspace in enumerate(workspaces):
            await client.execute_query(
                "INSERT INTO workspace (id, slug, name, region, status, db_name, created_at, "
                f"updated_at) VALUES ({_marks(8)})",
                _values(workspace, f"w{n}", "W", "US", "TRIALING", f"db{n}", now, now),
            )
        await _apply(client, LANDLORD, LANDLORD_APP)
        rows = await client.execute_query_dict(
            "SELECT account_id, workspace_id, done_at, attempts FROM erasure_progress"
        )
        assert {(str(r["account_id"]), str(r["workspace_id"])) for r in rows} == {
            (str(pending), str(w)) for w in workspaces
        }
        assert all(r["done_at"] is None and r["attempts"] == 0 for r in rows)
    finally:
        handler.reset(token)
        await client.close()
        if BACKEND == "postgres":
            await databases.drop_database(url)


def _marks(count: int) -> str:
    marks = ["?"] * count if BACKEND == "sqlite" else [f"${n}" for n in range(1, count + 1)]
    return ", ".join(marks)


def _values(*values: object) -> list[object]:
    """Parameters as the engine takes them: SQLite stores text (and 0/1 for booleans)."""
    if BACKEND == "postgres":
        return list(values)
    converted: list[object] = []
    for value in values:
        if isinstance(value, uuid.UUID | datetime):
            converted.append(str(value))
        elif isinstance(value, bool):
            converted.append(int(value))
        else:
            converted.append(value)
    return converted


async def _apply_until(client: object, name: str) -> None:
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

    executor = MigrationExecutor(client, {LANDLORD: LANDLORD_APP})  # type: ignore[arg-type]
    await executor.migrate([MigrationTarget(LANDLORD, name)])
