"""Tracker fixtures: accounts of every role in the owner's workspace, and seeding helpers.

Invitations do not exist yet, so a second account joins a workspace by a membership row
written straight into the landlord. Everything else goes through GraphQL.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from lightningtrack.models.landlord import Account as AccountModel
from lightningtrack.models.landlord import Membership, Role
from lightningtrack.models.landlord import Workspace as WorkspaceModel
from lightningtrack.models.workspace import PRIORITY_RANK, Issue, IssuePriority, Project
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, signed_up

PROJECT = "id key name description archived"
ISSUE = """
id key number title description status priority estimateSeconds labels createdAt updatedAt
project { id key } assignee { id name } creator { id name }
"""
COMMENT = "id body author { id name } issue { id key }"
TIME_ENTRY = "id startedAt durationSeconds note billable account { id name } issue { id key }"

PROJECT_CREATE = f"""
mutation($input: ProjectCreateInput!) {{
  projectCreate(input: $input) {{ project {{ {PROJECT} }} }}
}}
"""
PROJECT_UPDATE = f"""
mutation($id: ID!, $input: ProjectUpdateInput!) {{
  projectUpdate(id: $id, input: $input) {{ project {{ {PROJECT} }} }}
}}
"""
PROJECT_DELETE = "mutation($id: ID!) { projectDelete(id: $id) { deletedId } }"
ISSUE_CREATE = f"""
mutation($input: IssueCreateInput!) {{ issueCreate(input: $input) {{ issue {{ {ISSUE} }} }} }}
"""
ISSUE_UPDATE = f"""
mutation($id: ID!, $input: IssueUpdateInput!) {{
  issueUpdate(id: $id, input: $input) {{ issue {{ {ISSUE} }} }}
}}
"""
ISSUE_DELETE = "mutation($id: ID!) { issueDelete(id: $id) { deletedId } }"
COMMENT_CREATE = f"""
mutation($input: CommentCreateInput!) {{
  commentCreate(input: $input) {{ comment {{ {COMMENT} }} }}
}}
"""
COMMENT_UPDATE = f"""
mutation($id: ID!, $body: String!) {{
  commentUpdate(id: $id, body: $body) {{ comment {{ {COMMENT} }} }}
}}
"""
COMMENT_DELETE = "mutation($id: ID!) { commentDelete(id: $id) { deletedId } }"
TIME_ENTRY_CREATE = f"""
mutation($input: TimeEntryCreateInput!) {{
  timeEntryCreate(input: $input) {{ timeEntry {{ {TIME_ENTRY} }} }}
}}
"""
TIME_ENTRY_UPDATE = f"""
mutation($id: ID!, $input: TimeEntryUpdateInput!) {{
  timeEntryUpdate(id: $id, input: $input) {{ timeEntry {{ {TIME_ENTRY} }} }}
}}
"""
TIME_ENTRY_DELETE = "mutation($id: ID!) { timeEntryDelete(id: $id) { deletedId } }"

NODE = f"""
query($id: ID!) {{
  node(id: $id) {{
    __typename id
    ... on Project {{ {PROJECT} }}
    ... on Issue {{ {ISSUE} }}
    ... on Comment {{ {COMMENT} }}
    ... on TimeEntry {{ {TIME_ENTRY} }}
  }}
}}
"""
ISSUE_BY_ID = f"query($id: ID) {{ issue(id: $id) {{ {ISSUE} }} }}"
ISSUE_BY_KEY = f"query($key: String) {{ issue(key: $key) {{ {ISSUE} }} }}"
PROJECT_BY_ID = f"query($id: ID) {{ project(id: $id) {{ {PROJECT} }} }}"
PROJECT_BY_KEY = f"query($key: String) {{ project(key: $key) {{ {PROJECT} }} }}"

STARTED = "2026-03-02T09:00:00+00:00"


def project_key() -> str:
    """A fresh project key (A-Z0-9, 2 to 10 characters)."""
    return "P" + secrets.token_hex(4).upper()


def raw_key(node_id: str) -> str:
    """The key inside one of our global ids, e.g. "<workspace hex>.12"."""
    text = base64.urlsafe_b64decode(node_id + "=" * (-len(node_id) % 4)).decode()
    return text.partition(":")[2]


async def account_id(client: Client) -> str:
    """The global id of the client's account."""
    data = await client.gql("{ viewer { id } }")
    viewer_id: str = data["viewer"]["id"]
    return viewer_id


async def workspace_of(client: Client) -> WorkspaceModel:
    """The landlord row of the workspace the client is bound to."""
    assert client.workspace is not None
    return await WorkspaceModel.get(slug=client.workspace)


async def join(make_client: Any, owner: Client, role: Role, name: str) -> Client:
    """A new account with ``role`` in the owner's workspace, bound to it."""
    client = await signed_up(make_client, name)
    account = await AccountModel.get(id=raw_key(await account_id(client)))
    await Membership.create(workspace=await workspace_of(owner), account=account, role=role)
    client.workspace = owner.workspace
    return client


@pytest.fixture
async def guest(make_client: Any, owner: Client) -> Client:
    """An account with the GUEST role in the owner's workspace, bound to it."""
    return await join(make_client, owner, Role.GUEST, "Gus")


@pytest.fixture
async def member(make_client: Any, owner: Client) -> Client:
    """An account with the MEMBER role in the owner's workspace, bound to it."""
    return await join(make_client, owner, Role.MEMBER, "Mia")


@pytest.fixture
async def admin(make_client: Any, owner: Client) -> Client:
    """An account with the ADMIN role in the owner's workspace, bound to it."""
    return await join(make_client, owner, Role.ADMIN, "Ada")


async def create_project(
    client: Client, key: str | None = None, name: str = "Web"
) -> dict[str, Any]:
    data = await client.gql(PROJECT_CREATE, {"input": {"key": key or project_key(), "name": name}})
    project: dict[str, Any] = data["projectCreate"]["project"]
    return project


async def create_issue(
    client: Client, project_id: str, title: str = "An issue", **fields: Any
) -> dict[str, Any]:
    data = await client.gql(
        ISSUE_CREATE, {"input": {"projectId": project_id, "title": title, **fields}}
    )
    issue: dict[str, Any] = data["issueCreate"]["issue"]
    return issue


async def create_comment(client: Client, issue_id: str, body: str = "A comment") -> dict[str, Any]:
    data = await client.gql(COMMENT_CREATE, {"input": {"issueId": issue_id, "body": body}})
    comment: dict[str, Any] = data["commentCreate"]["comment"]
    return comment


async def log_time(
    client: Client,
    issue_id: str,
    seconds: int = 600,
    started_at: str = STARTED,
    **fields: Any,
) -> dict[str, Any]:
    data = await client.gql(
        TIME_ENTRY_CREATE,
        {
            "input": {
                "issueId": issue_id,
                "startedAt": started_at,
                "durationSeconds": seconds,
                **fields,
            }
        },
    )
    entry: dict[str, Any] = data["timeEntryCreate"]["timeEntry"]
    return entry


async def node(client: Client, node_id: str) -> dict[str, Any] | None:
    data = await client.gql(NODE, {"id": node_id})
    found: dict[str, Any] | None = data["node"]
    return found


def pk_of(node_id: str) -> int:
    """The primary key of a workspace row behind its global id."""
    return int(raw_key(node_id).rpartition(".")[2])


def account_uuid(node_id: str) -> uuid.UUID:
    """The account id behind an Account global id."""
    return uuid.UUID(raw_key(node_id))


async def seed_issues(
    tenancy: Tenancy, client: Client, project_id: str, specs: list[dict[str, Any]]
) -> None:
    """Insert issues straight into the workspace's database, numbered after the existing
    ones, as issueCreate would: quicker than GraphQL for hundreds of rows."""
    pk = pk_of(project_id)
    async with tenancy.workspace(await workspace_of(client)), in_transaction(WORKSPACE):
        project = await Project.get(id=pk)
        first = project.last_issue_number + 1
        rows = []
        for n, spec in enumerate(specs):
            priority = IssuePriority(spec.pop("priority", "NONE"))
            rows.append(
                Issue(
                    project_id=pk,
                    number=first + n,
                    priority=priority,
                    priority_rank=PRIORITY_RANK[priority],
                    **spec,
                )
            )
        await Issue.bulk_create(rows)
        await Project.filter(id=pk).update(last_issue_number=first + len(rows) - 1)
