"""Members: role changes and removals take effect on the next request; a workspace always
keeps an OWNER; ADMINs do not touch OWNERs; anyone may leave."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from lightningtrack.models.landlord import Role
from tests.conftest import Client
from tests.integrators.conftest import (
    MEMBER_REMOVE,
    MEMBER_ROLE_UPDATE,
    MEMBERS,
    PROJECT_CREATE,
    VIEWER_ROLE,
    account_id,
    create_project,
    join,
    project_key,
)


def project_input() -> dict[str, Any]:
    return {"input": {"key": project_key(), "name": "Roles"}}


async def role_of(client: Client) -> str:
    role: str = (await client.gql(VIEWER_ROLE))["workspace"]["viewerRole"]
    return role


async def roles(owner: Client) -> dict[str, str]:
    """Each member's role, by account id."""
    members = (await owner.gql(MEMBERS))["members"]
    return {m["account"]["id"]: m["role"] for m in members}


async def code_of(client: Client, query: str, variables: dict[str, Any]) -> str:
    code: str = (await client.error(query, variables))["extensions"]["code"]
    return code


async def test_a_role_change_applies_on_the_next_request(make_client: Any, owner: Client) -> None:
    """No sign-out needed: a promoted member can act at once, a demoted one cannot."""
    member = await join(make_client, owner, Role.MEMBER, "Mia")
    member_id = await account_id(member)
    assert await code_of(member, PROJECT_CREATE, project_input()) == "FORBIDDEN"

    updated = await owner.gql(MEMBER_ROLE_UPDATE, {"id": member_id, "role": "ADMIN"})
    assert updated["memberRoleUpdate"] == {"role": "ADMIN", "account": {"id": member_id}}
    assert await role_of(member) == "ADMIN"
    assert (await member.gql(PROJECT_CREATE, project_input()))["projectCreate"]["project"]["id"]

    await owner.gql(MEMBER_ROLE_UPDATE, {"id": member_id, "role": "GUEST"})
    assert await role_of(member) == "GUEST"
    assert await code_of(member, PROJECT_CREATE, project_input()) == "FORBIDDEN"
    assert (await roles(owner))[member_id] == "GUEST"


async def test_a_removed_member_is_out_on_the_next_request(make_client: Any, owner: Client) -> None:
    """Removal must cut access at once: the workspace is then as unknown as any other."""
    await create_project(owner)
    member = await join(make_client, owner, Role.MEMBER, "Mia")
    member_id = await account_id(member)
    assert (await member.gql("{ projects { totalCount } }"))["projects"]["totalCount"] == 1

    removed = await owner.gql(MEMBER_REMOVE, {"id": member_id})
    assert removed["memberRemove"]["deletedId"] == member_id
    for query in (VIEWER_ROLE, "{ projects { totalCount } }"):
        error = await member.error(query)
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert member_id not in await roles(owner)
    assert (await member.gql("{ workspaces { slug } }"))["workspaces"] == []


async def test_the_last_owner_cannot_be_demoted_or_removed(owner: Client) -> None:
    """A workspace without an OWNER could never be billed, managed or deleted."""
    me = await account_id(owner)
    for role in ("ADMIN", "MEMBER", "GUEST"):
        assert await code_of(owner, MEMBER_ROLE_UPDATE, {"id": me, "role": role}) == "CONFLICT"
    assert await code_of(owner, MEMBER_REMOVE, {"id": me}) == "CONFLICT"
    assert await role_of(owner) == "OWNER"
    assert await roles(owner) == {me: "OWNER"}


async def test_with_two_owners_one_may_go(make_client: Any, owner: Client) -> None:
    """The rule is about the last OWNER: a second one can be demoted or removed freely."""
    second = await join(make_client, owner, Role.ADMIN, "Otto")
    second_id, me = await account_id(second), await account_id(owner)
    await owner.gql(MEMBER_ROLE_UPDATE, {"id": second_id, "role": "OWNER"})
    assert await role_of(second) == "OWNER"

    await second.gql(MEMBER_ROLE_UPDATE, {"id": me, "role": "ADMIN"})
    assert await role_of(owner) == "ADMIN"
    await second.gql(MEMBER_ROLE_UPDATE, {"id": me, "role": "OWNER"})

    removed = await second.gql(MEMBER_REMOVE, {"id": me})
    assert removed["memberRemove"]["deletedId"] == me
    assert await roles(second) == {second_id: "OWNER"}
    assert await code_of(second, MEMBER_REMOVE, {"id": second_id}) == "CONFLICT"


async def test_an_admin_cannot_touch_an_owner(make_client: Any, owner: Client) -> None:
    """ADMINs manage the team below OWNER: no demoting, removing or making OWNERs."""
    admin = await join(make_client, owner, Role.ADMIN, "Ada")
    member = await join(make_client, owner, Role.MEMBER, "Mia")
    me, member_id = await account_id(owner), await account_id(member)
    before = await roles(owner)

    for role in ("ADMIN", "MEMBER", "GUEST", "OWNER"):
        assert await code_of(admin, MEMBER_ROLE_UPDATE, {"id": me, "role": role}) == "FORBIDDEN"
    assert await code_of(admin, MEMBER_REMOVE, {"id": me}) == "FORBIDDEN"
    assert (
        await code_of(admin, MEMBER_ROLE_UPDATE, {"id": member_id, "role": "OWNER"}) == "FORBIDDEN"
    )
    assert await code_of(member, MEMBER_ROLE_UPDATE, {"id": me, "role": "GUEST"}) == "FORBIDDEN"
    assert await code_of(member, MEMBER_REMOVE, {"id": me}) == "FORBIDDEN"
    assert await roles(owner) == before

    await admin.gql(MEMBER_ROLE_UPDATE, {"id": member_id, "role": "ADMIN"})
    assert (await roles(owner))[member_id] == "ADMIN"


async def test_a_member_may_leave(make_client: Any, owner: Client) -> None:
    """Leaving needs no rights: a GUEST or MEMBER removes themselves."""
    for role, name in ((Role.GUEST, "Gus"), (Role.MEMBER, "Mia")):
        leaver = await join(make_client, owner, role, name)
        leaver_id = await account_id(leaver)
        left = await leaver.gql(MEMBER_REMOVE, {"id": leaver_id})
        assert left["memberRemove"]["deletedId"] == leaver_id
        assert (await leaver.error(VIEWER_ROLE))["extensions"]["code"] == "NOT_FOUND"
        assert leaver_id not in await roles(owner)
    assert await role_of(owner) == "OWNER"


async def test_foreign_and_garbage_ids_are_not_found(
    make_client: Any, owner: Client, other_workspace: Client
) -> None:
    """Ids of people elsewhere, of other types, or of nothing: the same NOT_FOUND."""
    project = await create_project(owner)
    outsider = await account_id(other_workspace)
    nobody = base64.urlsafe_b64encode(f"Account:{uuid.uuid4()}".encode()).decode().rstrip("=")
    bad_uuid = base64.urlsafe_b64encode(b"Account:not-a-uuid").decode().rstrip("=")
    for target in (outsider, nobody, bad_uuid, project["id"], "garbage", "", "!!!", "x" * 500):
        for query, variables in (
            (MEMBER_REMOVE, {"id": target}),
            (MEMBER_ROLE_UPDATE, {"id": target, "role": "GUEST"}),
        ):
            assert await code_of(owner, query, variables) == "NOT_FOUND", (target, query)
    # The outsider is untouched in their own workspace.
    assert (await other_workspace.gql(VIEWER_ROLE))["workspace"]["viewerRole"] == "OWNER"
