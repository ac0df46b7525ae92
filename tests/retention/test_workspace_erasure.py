"""Erasure of a workspace: who may ask, the reminder before it, the erasure on the day, what
is left afterwards (a tombstone, nothing else), and cancelling in time."""

from __future__ import annotations

from datetime import datetime

from tortoise.models import Model

from lightningtrack import clock
from lightningtrack.models import landlord
from lightningtrack.models.landlord import (
    DataExport,
    JobStatus,
    Membership,
    Role,
    Workspace,
    WorkspaceStatus,
    WorkspaceTombstone,
)
from lightningtrack.resolvers.exports import archive_path
from lightningtrack.settings import Settings
from tests.retention.conftest import (
    DAY,
    PROJECTS,
    WORKSPACE,
    WORKSPACES,
    MakePerson,
    Person,
    Sweep,
    about,
    create_project,
    create_workspace,
    database_exists,
    join,
    outbox,
    parse_time,
    text_of,
)

DELETE = """
mutation($slug: String!) {
  workspaceDelete(confirmSlug: $slug) { workspace { slug status deletionScheduledAt } }
}
"""
CANCEL = "mutation { workspaceDeletionCancel { workspace { status deletionScheduledAt } } }"
EXPORT = "mutation { dataExportCreate { id status } }"
REMINDER = "workspace_deletion_reminder"


def landlord_models() -> list[type[Model]]:
    """Every landlord table, including ones added after this test was written."""
    return [
        model
        for model in vars(landlord).values()
        if isinstance(model, type)
        and issubclass(model, Model)
        and model is not Model
        and model._meta.app == "landlord"
    ]


async def landlord_rows_naming(*needles: str) -> list[str]:
    """Landlord rows (outside the tombstones) with any of ``needles`` in any column."""
    hits = []
    for model in landlord_models():
        if model is WorkspaceTombstone:
            continue
        for row in await model.all().values():
            for column, value in row.items():
                if value is not None and any(n in str(value) for n in needles):
                    hits.append(f"{model.__name__}.{column}={value!r}")
    return hits


async def schedule(person: Person, slug: str) -> datetime:
    data = await person.client.gql(DELETE, {"slug": slug})
    workspace = data["workspaceDelete"]["workspace"]
    assert workspace["status"] == "PENDING_DELETION"
    return parse_time(workspace["deletionScheduledAt"])


async def test_only_an_owner_typing_the_slug_can_schedule_the_deletion(
    make_person: MakePerson,
) -> None:
    """Erasure cannot be undone once it runs: a typo or a lesser role must not start it."""
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Olga")
    workspace = await create_workspace(owner, "Doomed")
    admin = await make_person("Ada")
    member = await make_person("Mia")
    await join(admin, workspace, Role.ADMIN)
    await join(member, workspace, Role.MEMBER)

    error = await owner.client.error(DELETE, {"slug": workspace.slug + "x"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "confirmSlug"
    for lesser in (admin, member):
        error = await lesser.client.error(DELETE, {"slug": workspace.slug})
        assert error["extensions"]["code"] == "FORBIDDEN"
    row = await Workspace.get(id=workspace.id)
    assert row.status == WorkspaceStatus.TRIALING
    assert row.deletion_scheduled_at is None

    assert await schedule(owner, workspace.slug) == t0 + 7 * DAY
    data = await owner.client.gql(WORKSPACE)
    assert data["workspace"]["status"] == "PENDING_DELETION"
    assert parse_time(data["workspace"]["deletionScheduledAt"]) == t0 + 7 * DAY


async def test_workspace_is_reminded_on_day_6_and_erased_on_day_7_leaving_a_tombstone(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """The policy's promise: a reminder to every owner before, then nothing of it remains."""
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Olga")
    workspace = await create_workspace(owner, "Doomed")
    co_owner = await make_person("Otto")
    admin = await make_person("Ada")
    await join(co_owner, workspace, Role.OWNER)
    await join(admin, workspace, Role.ADMIN)
    await create_project(owner)
    await owner.client.gql(EXPORT)
    await sweep(t0)  # runs the export, among the rest; day 0: nothing is due for us
    export = await DataExport.get(workspace_id=workspace.id)
    assert export.status == JobStatus.SUCCEEDED
    assert archive_path(settings, export).exists()
    owners = (owner, co_owner)

    await schedule(owner, workspace.slug)
    assert about(await sweep(t0), workspace.slug) == []
    assert [outbox(settings, p.email, REMINDER) for p in owners] == [[], []]

    clock.freeze(t0 + 6 * DAY)
    for person in (owner, co_owner, admin):
        await person.visit()
    assert about(await sweep(t0 + 6 * DAY), workspace.slug) == [
        f"workspace deletion reminder: {workspace.slug}"
    ]
    for person in owners:
        [reminder] = outbox(settings, person.email, REMINDER)
        assert workspace.name in str(reminder["Subject"])
        assert (t0 + 7 * DAY).strftime("%Y-%m-%d %H:%M UTC") in text_of(reminder)
    assert outbox(settings, admin.email, REMINDER) == []  # owners only
    assert await Workspace.exists(id=workspace.id)
    assert await database_exists(settings, workspace)

    clock.freeze(t0 + 7 * DAY)
    for person in owners:
        await person.visit()
    assert about(await sweep(t0 + 7 * DAY), workspace.slug) == [
        f"erase workspace: {workspace.slug}"
    ]
    assert not await database_exists(settings, workspace)
    assert not archive_path(settings, export).exists()
    assert not await DataExport.exists(id=export.id)
    assert not await Workspace.exists(id=workspace.id)
    assert not await Membership.exists(workspace_id=workspace.id)
    tombstone = await WorkspaceTombstone.get(id=workspace.id)
    assert set(WorkspaceTombstone._meta.fields_map) == {"id", "region", "created_at", "erased_at"}
    assert tombstone.erased_at == t0 + 7 * DAY
    assert tombstone.region == workspace.region
    needles = (workspace.slug, workspace.name, str(workspace.id), workspace.id.hex)
    assert await landlord_rows_naming(*needles) == []

    slugs = [w["slug"] for w in (await owner.client.gql(WORKSPACES))["workspaces"]]
    assert workspace.slug not in slugs
    error = await owner.client.error(PROJECTS)
    assert error["extensions"]["code"] == "NOT_FOUND"

    assert about(await sweep(t0 + 8 * DAY), workspace.slug) == []
    assert await WorkspaceTombstone.filter(id=workspace.id).count() == 1
    for person in owners:
        assert len(outbox(settings, person.email, REMINDER)) == 1


async def test_cancelling_on_day_6_keeps_the_workspace_and_its_data(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """A reminder exists so that the deletion can be undone; undone, nothing may go."""
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Cal")
    workspace = await create_workspace(owner, "Saved")
    project = await create_project(owner)
    await schedule(owner, workspace.slug)

    await sweep(t0 + 6 * DAY)
    assert len(outbox(settings, owner.email, REMINDER)) == 1
    clock.freeze(t0 + 6 * DAY)
    data = await owner.client.gql(CANCEL)
    assert data["workspaceDeletionCancel"]["workspace"] == {
        "status": "TRIALING",
        "deletionScheduledAt": None,
    }
    error = await owner.client.error(CANCEL)
    assert error["extensions"]["code"] == "CONFLICT"

    for day in (7, 8):
        assert about(await sweep(t0 + day * DAY), workspace.slug) == []
    clock.freeze(t0 + 8 * DAY)
    assert await database_exists(settings, workspace)
    assert not await WorkspaceTombstone.exists(id=workspace.id)
    data = await owner.client.gql(PROJECTS)
    assert data["projects"]["nodes"] == [project]
    data = await owner.client.gql(WORKSPACE)
    assert data["workspace"]["status"] == "TRIALING"
    assert len(outbox(settings, owner.email, REMINDER)) == 1


async def test_an_erasure_found_due_without_a_reminder_is_reminded_and_postponed_a_day(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """A sweep that did not run for days must still warn before it erases."""
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Pat")
    workspace = await create_workspace(owner, "Late")
    await schedule(owner, workspace.slug)
    await sweep(t0)

    for _ in range(2):  # the same late sweep twice: one reminder, no erasure
        actions = await sweep(t0 + 10 * DAY)
        assert len(outbox(settings, owner.email, REMINDER)) == 1
        row = await Workspace.get(id=workspace.id)
        assert row.status == WorkspaceStatus.PENDING_DELETION
        assert row.deletion_scheduled_at == t0 + 11 * DAY
        assert await database_exists(settings, workspace)
    assert about(actions, workspace.slug) == []
    [reminder] = outbox(settings, owner.email, REMINDER)
    assert (t0 + 11 * DAY).strftime("%Y-%m-%d %H:%M UTC") in text_of(reminder)

    assert about(await sweep(t0 + 11 * DAY), workspace.slug) == [
        f"erase workspace: {workspace.slug}"
    ]
    assert not await Workspace.exists(id=workspace.id)
    assert not await database_exists(settings, workspace)
    assert len(outbox(settings, owner.email, REMINDER)) == 1
