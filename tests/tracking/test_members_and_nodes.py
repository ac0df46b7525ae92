"""Members of a workspace, node(id) for every tracker type, and who may read at all."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from tests.conftest import Client, signed_up
from tests.tracking.conftest import (
    ISSUE_CREATE,
    account_id,
    create_comment,
    create_issue,
    create_project,
    log_time,
    node,
)

MEMBERS = "{ members { role joinedAt account { id name email } } }"


async def test_members_lists_every_account_with_its_role(
    owner: Client, admin: Client, member: Client, guest: Client
) -> None:
    """members shows each account of the workspace once, with its role, oldest first."""
    data = await guest.gql(MEMBERS)
    members = data["members"]
    assert [(m["account"]["name"], m["role"]) for m in members] == [
        ("Owner", "OWNER"),
        ("Ada", "ADMIN"),
        ("Mia", "MEMBER"),
        ("Gus", "GUEST"),
    ]
    ids = [await account_id(c) for c in (owner, admin, member, guest)]
    assert [m["account"]["id"] for m in members] == ids
    joined = [datetime.fromisoformat(m["joinedAt"]) for m in members]
    assert joined == sorted(joined)
    assert all(moment.tzinfo is not None for moment in joined)
    assert (await owner.gql(MEMBERS)) == data


async def test_members_of_one_workspace_only(owner: Client, other_workspace: Client) -> None:
    """Each workspace lists its own members, not those of the other."""
    mine = await owner.gql(MEMBERS)
    theirs = await other_workspace.gql(MEMBERS)
    assert [m["account"]["name"] for m in mine["members"]] == ["Owner"]
    assert [m["account"]["name"] for m in theirs["members"]] == ["Other"]


async def test_node_resolves_every_tracker_type(owner: Client, member: Client) -> None:
    """node(id) returns projects, issues, comments and time entries, and member accounts."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"], "Found by node")
    comment = await create_comment(member, issue["id"], "Node comment")
    entry = await log_time(member, issue["id"], 90)
    for created, typename in (
        (project, "Project"),
        (issue, "Issue"),
        (comment, "Comment"),
        (entry, "TimeEntry"),
    ):
        found = await node(member, created["id"])
        assert found == {"__typename": typename, **created}, typename

    mia = await account_id(member)
    data = await owner.gql(
        "query($id: ID!) { node(id: $id) { __typename id ... on Account { name } } }", {"id": mia}
    )
    assert data["node"] == {"__typename": "Account", "id": mia, "name": "Mia"}


async def test_outsiders_read_and_write_nothing(
    make_client: Any, owner: Client, other_workspace: Client
) -> None:
    """Without a session, or as a non-member naming the workspace, nothing is readable or
    writable; a session without a workspace is asked for one."""
    project = await create_project(owner, "WEB")
    await create_issue(owner, project["id"])
    slug = owner.workspace
    query = "{ issues { totalCount } }"

    anonymous: Client = make_client()
    body = await anonymous.post(query, workspace=slug)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]

    body = await other_workspace.post(query, workspace=slug)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    body = await other_workspace.post(
        ISSUE_CREATE, {"input": {"projectId": project["id"], "title": "X"}}, workspace=slug
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]

    loner = await signed_up(make_client, "Lone")
    for document in (query, "{ members { role } }", "{ projects { totalCount } }"):
        body = await loner.post(document)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["WORKSPACE_REQUIRED"]

    assert (await owner.gql(query))["issues"]["totalCount"] == 1


async def test_concurrent_creates_share_new_labels(owner: Client) -> None:
    """Issues created at once in several projects, naming the same new label, all succeed
    and share one label."""
    projects = [await create_project(owner, f"P{n}") for n in range(6)]
    created = await asyncio.gather(
        *(create_issue(owner, p["id"], labels=["fresh", "shared"]) for p in projects)
    )
    assert all(issue["labels"] == ["fresh", "shared"] for issue in created)
    data = await owner.gql('{ issues(filter: { label: "fresh" }) { totalCount } }')
    assert data["issues"]["totalCount"] == 6
