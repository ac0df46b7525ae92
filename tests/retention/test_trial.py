"""A trial's end: one reminder the day before, read-only from the day it ends with one notice
naming the deletion date, and erasure 14 days later."""

from __future__ import annotations

from lightningtrack import clock
from lightningtrack.models.landlord import Workspace, WorkspaceTombstone
from lightningtrack.settings import Settings
from tests.retention.conftest import (
    DAY,
    PROJECT_CREATE,
    PROJECTS,
    WORKSPACE,
    MakePerson,
    Sweep,
    about,
    create_project,
    create_workspace,
    database_exists,
    kinds,
    outbox,
    parse_time,
    text_of,
)


async def test_expired_trial_is_read_only_then_erased_with_each_mail_sent_once(
    settings: Settings, make_person: MakePerson, sweep: Sweep
) -> None:
    """Trial-expiry reminders cannot be opted out of, so each must arrive, and only once."""
    t0 = clock.now()
    clock.freeze(t0)
    owner = await make_person("Tara")
    workspace = await create_workspace(owner, "Trial")
    project = await create_project(owner)
    data = await owner.client.gql(WORKSPACE)
    assert parse_time(data["workspace"]["trialEndsAt"]) == t0 + 14 * DAY
    deletion = t0 + 28 * DAY

    def mails() -> list[str]:
        return [k for k in kinds(settings, owner.email) if k != "registration"]

    clock.freeze(t0 + 12 * DAY)
    await owner.sign_in()  # twelve days idle: the session has ended
    await sweep(t0 + 12 * DAY)
    assert mails() == []

    for _ in range(2):
        clock.freeze(t0 + 13 * DAY)
        await owner.visit()
        await sweep(t0 + 13 * DAY)
        assert mails() == ["trial_ending"]
        assert (await owner.client.gql(WORKSPACE))["workspace"]["status"] == "TRIALING"

    clock.freeze(t0 + 14 * DAY)
    await owner.visit()
    assert about(await sweep(t0 + 14 * DAY), workspace.slug) == [f"trial expiry: {workspace.slug}"]
    data = await owner.client.gql(WORKSPACE)
    assert data["workspace"]["status"] == "TRIAL_EXPIRED"
    assert parse_time(data["workspace"]["deletionScheduledAt"]) == deletion
    error = await owner.client.error(PROJECT_CREATE, {"input": {"key": "NOPE", "name": "No"}})
    assert error["extensions"]["code"] == "PAYMENT_REQUIRED"
    assert (await owner.client.gql(PROJECTS))["projects"]["nodes"] == [project]
    assert mails() == ["trial_ending", "trial_expired"]
    [notice] = outbox(settings, owner.email, "trial_expired")
    assert deletion.strftime("%Y-%m-%d %H:%M UTC") in text_of(notice)

    for day in (15, 27):
        await sweep(t0 + day * DAY)
        row = await Workspace.get(id=workspace.id)
        assert row.status == "TRIAL_EXPIRED"
        assert row.deletion_scheduled_at == deletion
        assert await database_exists(settings, workspace)
    assert mails() == ["trial_ending", "trial_expired"]

    assert about(await sweep(t0 + 28 * DAY), workspace.slug) == [
        f"erase workspace: {workspace.slug}"
    ]
    assert not await Workspace.exists(id=workspace.id)
    assert await WorkspaceTombstone.exists(id=workspace.id)
    assert not await database_exists(settings, workspace)

    assert about(await sweep(t0 + 29 * DAY), workspace.slug) == []
    assert mails() == ["trial_ending", "trial_expired"]
