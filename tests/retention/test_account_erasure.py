"""Erasure of an account: asked for with the password, refused while it would orphan a
workspace, cancellable, reminded once, then carried out: the person goes, their work stays
with no name on it."""

from __future__ import annotations

from typing import Any

from lightningtrack import clock
from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import (
    Account,
    AccountToken,
    DataExport,
    EmailMessage,
    Membership,
    Role,
    Session,
    Workspace,
)
from lightningtrack.resolvers.exports import archive_path
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
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
    outbox,
    parse_time,
    text_of,
)

DELETE = """
mutation($password: String!) {
  accountDelete(password: $password) { account { id deletionScheduledAt } }
}
"""
CANCEL = "mutation { accountDeletionCancel { account { deletionScheduledAt } } }"
WORKSPACE_DELETE = """
mutation($slug: String!) { workspaceDelete(confirmSlug: $slug) { workspace { status } } }
"""
ISSUE_CREATE = """
mutation($input: IssueCreateInput!) { issueCreate(input: $input) { issue { id } } }
"""
COMMENT_CREATE = """
mutation($input: CommentCreateInput!) { commentCreate(input: $input) { comment { id } } }
"""
TIME_ENTRY_CREATE = """
mutation($input: TimeEntryCreateInput!) { timeEntryCreate(input: $input) { timeEntry { id } } }
"""
ISSUE = """
query($id: ID) {
  issue(id: $id) {
    title creator { id } assignee { id }
    comments { nodes { body author { id } } }
    timeEntries { nodes { note account { id } } }
  }
}
"""
REMINDER = "account_deletion_reminder"


async def leave_traces(author: Person, project_id: str, label: str) -> str:
    """An issue created by and assigned to ``author``, with their comment and time entry."""
    viewer = (await author.client.gql(VIEWER))["viewer"]["id"]
    data = await author.client.gql(
        ISSUE_CREATE,
        {"input": {"projectId": project_id, "title": f"{label} issue", "assigneeId": viewer}},
    )
    issue_id: str = data["issueCreate"]["issue"]["id"]
    await author.client.gql(COMMENT_CREATE, {"input": {"issueId": issue_id, "body": label}})
    await author.client.gql(
        TIME_ENTRY_CREATE,
        {
            "input": {
                "issueId": issue_id,
                "startedAt": clock.now().isoformat(),
                "durationSeconds": 600,
                "note": label,
            }
        },
    )
    return issue_id


async def read_issue(reader: Person, slug: str, issue_id: str) -> dict[str, Any]:
    data = await reader.client.gql(ISSUE, {"id": issue_id}, workspace=slug)
    issue: dict[str, Any] = data["issue"]
    return issue


async def test_deletion_needs_the_password_and_no_orphaned_workspace(
    make_person: MakePerson,
) -> None:
    """A stolen session alone must not erase an account, and erasing a sole owner would leave
    a workspace nobody can administer or pay for."""
    t0 = clock.now()
    clock.freeze(t0)
    ann = await make_person("Ann")
    kept = await create_workspace(ann, "Kept")
    doomed = await create_workspace(ann, "Doomed")
    bob = await make_person("Bob")

    error = await ann.client.error(DELETE, {"password": "wrong horse"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await ann.client.gql(VIEWER))["viewer"]["deletionScheduledAt"] is None

    error = await ann.client.error(DELETE, {"password": PASSWORD})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["workspaces"] == sorted([kept.slug, doomed.slug])
    assert kept.slug in error["message"] and doomed.slug in error["message"]

    await join(bob, kept, Role.OWNER)
    error = await ann.client.error(DELETE, {"password": PASSWORD})
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["workspaces"] == [doomed.slug]
    assert kept.slug not in error["message"]

    await ann.client.gql(WORKSPACE_DELETE, {"slug": doomed.slug}, workspace=doomed.slug)
    data = await ann.client.gql(DELETE, {"password": PASSWORD})
    assert parse_time(data["accountDelete"]["account"]["deletionScheduledAt"]) == t0 + 7 * DAY
    assert (await Account.get(id=ann.account_id)).deletion_scheduled_at == t0 + 7 * DAY

    data = await ann.client.gql(CANCEL)
    assert data["accountDeletionCancel"]["account"]["deletionScheduledAt"] is None
    assert (await Account.get(id=ann.account_id)).deletion_scheduled_at is None
    error = await ann.client.error(CANCEL)
    assert error["extensions"]["code"] == "CONFLICT"


async def test_erased_account_leaves_its_work_anonymous_in_every_workspace(
    settings: Settings, tenancy: Tenancy, make_person: MakePerson, sweep: Sweep
) -> None:
    """Erasure removes the person, not the team's history: issues, comments and time stay,
    with nobody named on them; a cancelled request erases nothing."""
    t0 = clock.now()
    clock.freeze(t0)
    ann = await make_person("Ann")
    bob = await make_person("Bob")
    mine = await create_workspace(ann, "Mine")
    theirs = await create_workspace(bob, "Theirs")
    await join(bob, mine, Role.OWNER)
    await join(ann, theirs, Role.MEMBER)
    ann.client.workspace = mine.slug
    traces = {mine.slug: await leave_traces(ann, (await create_project(ann))["id"], "mine")}
    ann.client.workspace = bob.client.workspace = theirs.slug
    traces[theirs.slug] = await leave_traces(ann, (await create_project(bob))["id"], "theirs")

    # Asked for, then cancelled: the date passes and nothing happens.
    await ann.client.gql(DELETE, {"password": PASSWORD})
    await ann.client.gql(CANCEL)
    assert about(await sweep(t0 + 8 * DAY), str(ann.account_id)) == []
    assert await Account.exists(id=ann.account_id)
    assert outbox(settings, ann.email, REMINDER) == []

    t1 = t0 + 8 * DAY
    clock.freeze(t1)
    for person in (ann, bob):
        await person.sign_in()  # the sweep ended the sessions idle for eight days
    data = await ann.client.gql(DELETE, {"password": PASSWORD})
    assert parse_time(data["accountDelete"]["account"]["deletionScheduledAt"]) == t1 + 7 * DAY
    await ann.client.gql("mutation { accessReportCreate { id } }")
    await sweep(t1)
    report = await DataExport.get(account_id=ann.account_id)
    assert archive_path(settings, report).exists()

    for _ in range(2):
        clock.freeze(t1 + 6 * DAY)
        for person in (ann, bob):
            await person.visit()
        await sweep(t1 + 6 * DAY)
        [reminder] = outbox(settings, ann.email, REMINDER)
        assert (t1 + 7 * DAY).strftime("%Y-%m-%d %H:%M UTC") in text_of(reminder)
        assert await Account.exists(id=ann.account_id)
    assert outbox(settings, bob.email, REMINDER) == []

    clock.freeze(t1 + 7 * DAY)
    await ann.visit()
    await bob.visit()
    await ann.client.gql(
        "mutation($e: String!) { passwordResetRequest(email: $e) }", {"e": ann.email}
    )
    await sweep(t1 + 7 * DAY - DAY / 24)  # sends the reset mail; not yet due
    assert await AccountToken.exists(account_id=ann.account_id, purpose="password_reset")
    assert await Session.exists(account_id=ann.account_id)
    assert await Membership.filter(account_id=ann.account_id).count() == 2

    assert about(await sweep(t1 + 7 * DAY), str(ann.account_id)) == [
        f"erase account: {ann.account_id}"
    ]
    assert not await Account.exists(id=ann.account_id)
    assert not await Account.exists(email_key=ann.email.casefold())
    assert not await Session.exists(account_id=ann.account_id)
    assert not await Membership.exists(account_id=ann.account_id)
    assert not await AccountToken.exists(account_id=ann.account_id)
    assert not await DataExport.exists(id=report.id)
    assert not archive_path(settings, report).exists()
    assert not await EmailMessage.exists(to_address=ann.email)
    assert (await ann.client.gql(VIEWER))["viewer"] is None

    for slug, issue_id in traces.items():
        issue = await read_issue(bob, slug, issue_id)
        label = slug.split("-")[0]
        assert issue["title"] == f"{label} issue"
        assert issue["creator"] is None
        assert issue["assignee"] is None
        assert issue["comments"]["nodes"] == [{"body": label, "author": None}]
        assert issue["timeEntries"]["nodes"] == [{"note": label, "account": None}]
        # Null in the rows themselves, not only an id that no longer resolves.
        async with tenancy.workspace(await Workspace.get(slug=slug)):
            assert await wsm.Issue.filter(title=f"{label} issue").values(
                "creator_id", "assignee_id"
            ) == [{"creator_id": None, "assignee_id": None}]
            assert await wsm.Comment.filter(body=label).values_list("author_id", flat=True) == [
                None
            ]
            assert await wsm.TimeEntry.filter(note=label).values_list("account_id", flat=True) == [
                None
            ]

    error = await ann.client.error(SIGN_IN, {"input": {"email": ann.email, "password": PASSWORD}})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert about(await sweep(t1 + 8 * DAY), str(ann.account_id)) == []
    assert len(outbox(settings, ann.email, REMINDER)) == 1
