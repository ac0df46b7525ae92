"""The role matrix: which role may run which tracker mutation, on whose content.

GUEST reads. MEMBER creates and edits issues, comments and time entries, and edits or
deletes only their own comments and time entries. ADMIN and OWNER do everything. Every
mutation is tried by every role on a fresh target; an allowed one must take effect, a
forbidden one must answer FORBIDDEN and change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lightningtrack.models.landlord import Role
from lightningtrack.models.landlord import Workspace as WorkspaceModel
from lightningtrack.models.workspace import Comment, Issue, TimeEntry
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.tracking.conftest import (
    COMMENT_CREATE,
    COMMENT_DELETE,
    COMMENT_UPDATE,
    ISSUE_CREATE,
    ISSUE_DELETE,
    ISSUE_UPDATE,
    PROJECT_CREATE,
    PROJECT_DELETE,
    PROJECT_UPDATE,
    STARTED,
    TIME_ENTRY_CREATE,
    TIME_ENTRY_DELETE,
    TIME_ENTRY_UPDATE,
    account_id,
    account_uuid,
    create_comment,
    create_issue,
    create_project,
    join,
    log_time,
    node,
    pk_of,
    project_key,
    workspace_of,
)

ROLES = ("GUEST", "MEMBER", "ADMIN", "OWNER")
ADMINS = frozenset({"ADMIN", "OWNER"})
WRITERS = frozenset({"MEMBER", "ADMIN", "OWNER"})
COUNTS = """
{
  projects(includeArchived: true) { totalCount }
  issues { totalCount }
  timeEntries { totalCount }
}
"""


@dataclass
class Crew:
    """One workspace with an account of each role, plus another member who writes content."""

    tenancy: Tenancy
    workspace: WorkspaceModel
    clients: dict[str, Client]
    accounts: dict[str, uuid.UUID]
    author: uuid.UUID
    project: dict[str, Any]
    issue: dict[str, Any]

    @property
    def owner(self) -> Client:
        return self.clients["OWNER"]

    async def reassign(self, model: type[Any], column: str, node_id: str, to: uuid.UUID) -> None:
        """Make a row someone else's: its creator, author or account becomes ``to``."""
        async with self.tenancy.workspace(self.workspace):
            await model.filter(id=pk_of(node_id)).update(**{column: to})

    async def comment_by(self, account: uuid.UUID) -> str:
        comment = await create_comment(self.owner, self.issue["id"], "Original")
        await self.reassign(Comment, "author_id", comment["id"], account)
        return str(comment["id"])

    async def entry_by(self, account: uuid.UUID) -> str:
        entry = await log_time(self.owner, self.issue["id"], 600)
        await self.reassign(TimeEntry, "account_id", entry["id"], account)
        return str(entry["id"])

    async def issue_by(self, account: uuid.UUID) -> str:
        issue = await create_issue(self.owner, self.project["id"], "Original")
        await self.reassign(Issue, "creator_id", issue["id"], account)
        return str(issue["id"])


@pytest.fixture
async def crew(
    tenancy: Tenancy,
    make_client: Any,
    owner: Client,
    guest: Client,
    member: Client,
    admin: Client,
) -> Crew:
    author = await join(make_client, owner, Role.MEMBER, "Avery")
    clients = {"GUEST": guest, "MEMBER": member, "ADMIN": admin, "OWNER": owner}
    accounts = {role: account_uuid(await account_id(c)) for role, c in clients.items()}
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"], "Shared")
    return Crew(
        tenancy=tenancy,
        workspace=await workspace_of(owner),
        clients=clients,
        accounts=accounts,
        author=account_uuid(await account_id(author)),
        project=project,
        issue=issue,
    )


Prepare = Callable[[Crew, str], Awaitable[dict[str, Any]]]
Observe = Callable[[Crew, dict[str, Any]], Awaitable[Any]]


async def counts(crew: Crew, variables: dict[str, Any]) -> Any:
    return await crew.owner.gql(COUNTS)


async def target(crew: Crew, variables: dict[str, Any]) -> Any:
    """The object the mutation names, as the owner sees it (None once deleted)."""
    return await node(crew.owner, variables["id"])


async def comment_count(crew: Crew, variables: dict[str, Any]) -> Any:
    data = await crew.owner.gql(
        "query($id: ID) { issue(id: $id) { comments { totalCount } } }", {"id": crew.issue["id"]}
    )
    return data["issue"]["comments"]["totalCount"]


async def new_project(crew: Crew, role: str) -> dict[str, Any]:
    return {"input": {"key": project_key(), "name": "New"}}


async def project_update(crew: Crew, role: str) -> dict[str, Any]:
    project = await create_project(crew.owner)
    return {"id": project["id"], "input": {"name": "Renamed", "archived": True}}


async def project_delete(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": (await create_project(crew.owner))["id"]}


async def new_issue(crew: Crew, role: str) -> dict[str, Any]:
    return {"input": {"projectId": crew.project["id"], "title": "New"}}


async def issue_update(crew: Crew, role: str) -> dict[str, Any]:
    issue_id = await crew.issue_by(crew.author)
    return {"id": issue_id, "input": {"title": "Renamed", "priority": "HIGH", "labels": ["x"]}}


async def issue_delete_others(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.issue_by(crew.author)}


async def issue_delete_own(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.issue_by(crew.accounts[role])}


async def new_comment(crew: Crew, role: str) -> dict[str, Any]:
    return {"input": {"issueId": crew.issue["id"], "body": "New"}}


async def comment_update_own(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.comment_by(crew.accounts[role]), "body": "Edited"}


async def comment_update_others(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.comment_by(crew.author), "body": "Edited"}


async def comment_delete_own(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.comment_by(crew.accounts[role])}


async def comment_delete_others(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.comment_by(crew.author)}


async def new_entry(crew: Crew, role: str) -> dict[str, Any]:
    return {"input": {"issueId": crew.issue["id"], "startedAt": STARTED, "durationSeconds": 60}}


async def entry_update_own(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.entry_by(crew.accounts[role]), "input": {"durationSeconds": 7}}


async def entry_update_others(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.entry_by(crew.author), "input": {"durationSeconds": 7}}


async def entry_delete_own(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.entry_by(crew.accounts[role])}


async def entry_delete_others(crew: Crew, role: str) -> dict[str, Any]:
    return {"id": await crew.entry_by(crew.author)}


# name, document, roles allowed, how to make the target, what must (not) change.
MATRIX: list[tuple[str, str, frozenset[str], Prepare, Observe]] = [
    ("projectCreate", PROJECT_CREATE, ADMINS, new_project, counts),
    ("projectUpdate", PROJECT_UPDATE, ADMINS, project_update, target),
    ("projectDelete", PROJECT_DELETE, ADMINS, project_delete, target),
    ("issueCreate", ISSUE_CREATE, WRITERS, new_issue, counts),
    ("issueUpdate", ISSUE_UPDATE, WRITERS, issue_update, target),
    ("issueDelete (someone else's)", ISSUE_DELETE, ADMINS, issue_delete_others, target),
    ("issueDelete (own)", ISSUE_DELETE, ADMINS, issue_delete_own, target),
    ("commentCreate", COMMENT_CREATE, WRITERS, new_comment, comment_count),
    ("commentUpdate (own)", COMMENT_UPDATE, WRITERS, comment_update_own, target),
    ("commentUpdate (someone else's)", COMMENT_UPDATE, ADMINS, comment_update_others, target),
    ("commentDelete (own)", COMMENT_DELETE, WRITERS, comment_delete_own, target),
    ("commentDelete (someone else's)", COMMENT_DELETE, ADMINS, comment_delete_others, target),
    ("timeEntryCreate", TIME_ENTRY_CREATE, WRITERS, new_entry, counts),
    ("timeEntryUpdate (own)", TIME_ENTRY_UPDATE, WRITERS, entry_update_own, target),
    ("timeEntryUpdate (someone else's)", TIME_ENTRY_UPDATE, ADMINS, entry_update_others, target),
    ("timeEntryDelete (own)", TIME_ENTRY_DELETE, WRITERS, entry_delete_own, target),
    ("timeEntryDelete (someone else's)", TIME_ENTRY_DELETE, ADMINS, entry_delete_others, target),
]


@pytest.mark.parametrize(
    ("document", "allowed", "prepare", "observe"),
    [pytest.param(*row[1:], id=row[0]) for row in MATRIX],
)
async def test_role_matrix(
    crew: Crew,
    document: str,
    allowed: frozenset[str],
    prepare: Prepare,
    observe: Observe,
) -> None:
    """Allowed roles change the target; the others get FORBIDDEN and change nothing."""
    for role in ROLES:
        variables = await prepare(crew, role)
        before = await observe(crew, variables)
        body = await crew.clients[role].post(document, variables)
        after = await observe(crew, variables)
        if role in allowed:
            assert not body.get("errors"), f"{role} should be allowed: {body['errors']}"
            assert after != before, f"{role} was allowed but nothing changed"
        else:
            codes = [e["extensions"]["code"] for e in body.get("errors") or []]
            assert codes == ["FORBIDDEN"], f"{role} should be forbidden: {body}"
            assert body["data"] is None
            assert after == before, f"{role} was forbidden but something changed"


async def test_everyone_reads(crew: Crew) -> None:
    """Every role, GUEST included, reads projects, issues, comments, time and members."""
    await create_comment(crew.owner, crew.issue["id"], "Visible")
    await log_time(crew.owner, crew.issue["id"], 60)
    query = """
    {
      members { role }
      projects { nodes { key } }
      issues { nodes { key comments { totalCount } timeSpentSeconds } }
      timeEntries { totalSeconds }
    }
    """
    seen = [await crew.clients[role].gql(query) for role in ROLES]
    assert all(view == seen[0] for view in seen)
    assert seen[0]["issues"]["nodes"] == [
        {"key": "WEB-1", "comments": {"totalCount": 1}, "timeSpentSeconds": 60}
    ]
