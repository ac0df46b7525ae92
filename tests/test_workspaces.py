"""Workspaces: creation, slug rules, listing, X-Workspace binding and node lookup."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lightningtrack.models.landlord import Workspace as WorkspaceModel
from tests.conftest import WORKSPACE_CREATE, Client, signed_up, unique

CREATE_FULL = """
mutation($input: WorkspaceCreateInput!) {
  workspaceCreate(input: $input) {
    workspace { id slug name region status trialEndsAt viewerRole createdAt deletionScheduledAt }
  }
}
"""
WORKSPACES = "{ workspaces { id slug } }"
NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Account { email }
    ... on Workspace { slug viewerRole }
  }
}
"""
IDS = "{ viewer { id email } workspace { id slug } }"


def global_id(type_name: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def raw_key(node_id: str) -> str:
    """The key inside one of our global ids (for building ids of the wrong type)."""
    text = base64.urlsafe_b64decode(node_id + "=" * (-len(node_id) % 4)).decode()
    return text.partition(":")[2]


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no UTC offset"
    return parsed


async def create_error(client: Client, slug: str, name: str = "Acme") -> dict[str, Any]:
    return await client.error(WORKSPACE_CREATE, {"input": {"name": name, "slug": slug}})


async def test_workspace_create_makes_the_creator_owner_of_a_trial(make_client: Any) -> None:
    """A new workspace is the creator's, trialing for 14 days, in the default region."""
    client = await signed_up(make_client)
    slug = unique("acme")
    before = datetime.now(UTC)
    data = await client.gql(CREATE_FULL, {"input": {"name": "  Acme Inc ", "slug": slug}})
    workspace = data["workspaceCreate"]["workspace"]
    assert workspace["slug"] == slug
    assert workspace["name"] == "Acme Inc"
    assert workspace["viewerRole"] == "OWNER"
    assert workspace["status"] == "TRIALING"
    assert workspace["region"] == "US"
    assert workspace["deletionScheduledAt"] is None
    trial_ends = parse_time(workspace["trialEndsAt"])
    assert abs(trial_ends - (before + timedelta(days=14))) < timedelta(minutes=1)
    assert abs(parse_time(workspace["createdAt"]) - before) < timedelta(minutes=1)

    bound = await client.gql("{ workspace { id slug viewerRole } }", workspace=slug)
    assert bound["workspace"] == {"id": workspace["id"], "slug": slug, "viewerRole": "OWNER"}
    assert await WorkspaceModel.exists(slug=slug)


@pytest.mark.parametrize(
    "slug",
    [
        "ab",
        "a" * 41,
        "Acme",
        "acme_co",
        "-acme",
        "acme-",
        "ac--me",
        "acme\n",
        "acme co",
        "",
        "api",
        "admin",
    ],
)
async def test_bad_slug_is_rejected_naming_input_slug(make_client: Any, slug: str) -> None:
    """Slugs end up in URLs and database names: only short lower-case words, none reserved."""
    client = await signed_up(make_client)
    error = await create_error(client, slug)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "input.slug"
    assert (await client.gql(WORKSPACES))["workspaces"] == []


async def test_slug_length_bounds_are_inclusive(make_client: Any) -> None:
    """3 and 40 characters are the limits, and both are accepted."""
    client = await signed_up(make_client)
    shortest = uuid.uuid4().hex[:2] + "z"
    longest = "w" * 31 + "-" + uuid.uuid4().hex[:8]
    assert (len(shortest), len(longest)) == (3, 40)
    for slug in (shortest, longest):
        await client.gql(WORKSPACE_CREATE, {"input": {"name": "Edge", "slug": slug}})
    slugs = {w["slug"] for w in (await client.gql(WORKSPACES))["workspaces"]}
    assert slugs == {shortest, longest}


async def test_workspace_name_is_validated(make_client: Any) -> None:
    """An empty name is refused with its own field, before any database is made."""
    client = await signed_up(make_client)
    error = await client.error(WORKSPACE_CREATE, {"input": {"name": " ", "slug": unique("n")}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "input.name"


async def test_taken_slug_is_a_conflict(owner: Client, make_client: Any) -> None:
    """A slug names one workspace; someone else asking for it gets CONFLICT."""
    assert owner.workspace is not None
    someone = await signed_up(make_client, "Bob")
    error = await create_error(someone, owner.workspace)
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "input.slug"
    assert (await someone.gql(WORKSPACES))["workspaces"] == []
    assert await WorkspaceModel.filter(slug=owner.workspace).count() == 1


async def test_workspaces_lists_only_the_viewers(owner: Client, other_workspace: Client) -> None:
    """An account sees its own workspaces, oldest first, and nobody else's."""
    assert owner.workspace is not None
    second = unique("second")
    await owner.gql(WORKSPACE_CREATE, {"input": {"name": "Second", "slug": second}})
    slugs = [w["slug"] for w in (await owner.gql(WORKSPACES))["workspaces"]]
    assert slugs == [owner.workspace, second]
    other = [w["slug"] for w in (await other_workspace.gql(WORKSPACES))["workspaces"]]
    assert other == [other_workspace.workspace]


async def test_foreign_and_unknown_slugs_give_the_same_not_found(
    owner: Client, other_workspace: Client
) -> None:
    """X-Workspace must not reveal which slugs exist."""
    foreign = await owner.error("{ workspace { slug } }", workspace=other_workspace.workspace)
    unknown = await owner.error("{ workspace { slug } }", workspace=unique("nothing"))
    assert foreign["extensions"]["code"] == "NOT_FOUND"
    assert foreign["message"] == unknown["message"]
    assert foreign["extensions"] == unknown["extensions"]


async def test_workspace_without_header_requires_one(owner: Client) -> None:
    """Being a member is not enough: the request must say which workspace it is about."""
    owner.workspace = None
    error = await owner.error("{ workspace { slug } }")
    assert error["extensions"]["code"] == "WORKSPACE_REQUIRED"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (WORKSPACES, {}),
        ("{ workspace { slug } }", {}),
        (NODE, {"id": global_id("Account", uuid.uuid4())}),
        (WORKSPACE_CREATE, {"input": {"name": "Acme", "slug": "anonymous-acme"}}),
    ],
)
async def test_signed_out_requests_are_unauthenticated(
    make_client: Any, query: str, variables: dict[str, Any]
) -> None:
    """Everything about workspaces needs a session."""
    error = await make_client().error(query, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert not await WorkspaceModel.exists(slug="anonymous-acme")


async def test_signed_out_request_with_a_slug_is_unauthenticated(
    make_client: Any, owner: Client
) -> None:
    """A slug without a session reveals nothing and says to sign in."""
    error = await make_client().error("{ workspace { slug } }", workspace=owner.workspace)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_node_returns_own_account_and_workspace(owner: Client) -> None:
    """The ids the API hands out resolve back to the same objects."""
    ids = await owner.gql(IDS)
    account = (await owner.gql(NODE, {"id": ids["viewer"]["id"]}))["node"]
    assert account == {
        "__typename": "Account",
        "id": ids["viewer"]["id"],
        "email": ids["viewer"]["email"],
    }
    owner.workspace = None  # a workspace id resolves for its members without any binding
    workspace = (await owner.gql(NODE, {"id": ids["workspace"]["id"]}))["node"]
    assert workspace == {
        "__typename": "Workspace",
        "id": ids["workspace"]["id"],
        "slug": ids["workspace"]["slug"],
        "viewerRole": "OWNER",
    }


async def test_node_hides_other_accounts_and_workspaces(
    owner: Client, other_workspace: Client
) -> None:
    """Ids from another tenant resolve to null, bound or not, exactly like made-up ids."""
    theirs = await other_workspace.gql(IDS)
    for slug in (owner.workspace, None):
        owner.workspace = slug
        for node_id in (theirs["workspace"]["id"], theirs["viewer"]["id"]):
            assert (await owner.gql(NODE, {"id": node_id}))["node"] is None
        assert all(
            w["id"] != theirs["workspace"]["id"]
            for w in (await owner.gql(WORKSPACES))["workspaces"]
        )


@pytest.mark.parametrize(
    "make_id",
    [
        lambda mine: "garbage",
        lambda mine: "!!!",
        lambda mine: "",
        lambda mine: "A" * 500,
        lambda mine: global_id("Workspace", "not-a-uuid"),
        lambda mine: global_id("Workspace", uuid.uuid4()),
        lambda mine: global_id("Account", raw_key(mine["workspace"]["id"])),
        lambda mine: global_id("Workspace", raw_key(mine["viewer"]["id"])),
        lambda mine: global_id("Project", raw_key(mine["workspace"]["id"])),
        lambda mine: base64.b64encode(b"\xff\xfe:\x00").decode(),
    ],
)
async def test_node_with_garbage_or_wrong_type_id_is_null(owner: Client, make_id: Any) -> None:
    """An id of the wrong type, or none of ours, is simply not found, never an error."""
    mine = await owner.gql(IDS)
    assert (await owner.gql(NODE, {"id": make_id(mine)}))["node"] is None
