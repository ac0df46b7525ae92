"""Invitations: who may invite whom, the mailed link, and what accepting it does, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Role
from lightningtrack.settings import Settings
from tests.conftest import Client
from tests.integrators.conftest import (
    MEMBER_INVITE,
    MEMBERS,
    VIEWER_ROLE,
    account_id,
    join,
    link_token,
    mails_to,
    new_email,
    sign_up_as,
)

INVITATIONS = "{ invitations { id email role expiresAt } }"
ACCEPT = """
mutation($token: String!) {
  invitationAccept(token: $token) { workspace { slug viewerRole } }
}
"""


async def invite(
    inviter: Client, settings: Settings, jobs: InProcessRunner, address: str, role: str
) -> str:
    """Invite ``address`` and return the token of the link mailed to it."""
    data = await inviter.gql(MEMBER_INVITE, {"email": address, "role": role})
    assert data["memberInvite"]["email"] == address
    assert data["memberInvite"]["role"] == role
    await jobs.drain()
    [mail] = mails_to(settings, address, "invitation")
    return link_token(settings, mail, "/invitations/accept")


async def test_invite_mail_and_accept_make_a_member(
    make_client: Any, owner: Client, settings: Settings, jobs: InProcessRunner
) -> None:
    """The whole path a new teammate takes: mail, sign-up, accept, and they are in."""
    address = new_email("invitee")
    token = await invite(owner, settings, jobs, address, "MEMBER")
    pending = (await owner.gql(INVITATIONS))["invitations"]
    assert [(i["email"], i["role"]) for i in pending] == [(address, "MEMBER")]
    expires = datetime.fromisoformat(pending[0]["expiresAt"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    invitee = await sign_up_as(make_client, address)
    accepted = await invitee.gql(ACCEPT, {"token": token})
    assert accepted["invitationAccept"]["workspace"] == {
        "slug": owner.workspace,
        "viewerRole": "MEMBER",
    }
    slugs = [w["slug"] for w in (await invitee.gql("{ workspaces { slug } }"))["workspaces"]]
    assert slugs == [owner.workspace]
    members = (await owner.gql(MEMBERS))["members"]
    joined = [m for m in members if m["account"]["email"] == address]
    assert joined == [
        {"account": {"id": await account_id(invitee), "email": address}, "role": "MEMBER"}
    ]
    assert (await owner.gql(INVITATIONS))["invitations"] == []
    invitee.workspace = owner.workspace
    assert (await invitee.gql(VIEWER_ROLE))["workspace"]["viewerRole"] == "MEMBER"


async def test_an_invitation_works_once(
    make_client: Any, owner: Client, settings: Settings, jobs: InProcessRunner
) -> None:
    """A forwarded or leaked link must not let a second person in, nor re-grant a role."""
    address = new_email("once")
    token = await invite(owner, settings, jobs, address, "ADMIN")
    invitee = await sign_up_as(make_client, address)
    await invitee.gql(ACCEPT, {"token": token})

    error = await invitee.error(ACCEPT, {"token": token})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}
    for garbage in ("", "x" * 200, token[:-1]):
        error = await invitee.error(ACCEPT, {"token": garbage})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_expired_invitation_is_refused(
    make_client: Any, owner: Client, settings: Settings, jobs: InProcessRunner
) -> None:
    """Links live seven days: one found in an old mailbox later must not work."""
    start = datetime.now(UTC)
    clock.freeze(start)
    late, on_time = new_email("late"), new_email("ontime")
    late_token = await invite(owner, settings, jobs, late, "MEMBER")
    on_time_token = await invite(owner, settings, jobs, on_time, "MEMBER")

    clock.freeze(start + timedelta(days=7) - timedelta(minutes=1))
    punctual = await sign_up_as(make_client, on_time)
    await punctual.gql(ACCEPT, {"token": on_time_token})

    clock.freeze(start + timedelta(days=7, minutes=1))
    tardy = await sign_up_as(make_client, late)
    error = await tardy.error(ACCEPT, {"token": late_token})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}
    assert (await tardy.gql("{ workspaces { slug } }"))["workspaces"] == []


async def test_accepting_with_another_email_is_forbidden(
    make_client: Any, owner: Client, settings: Settings, jobs: InProcessRunner
) -> None:
    """The link is for one address: whoever else holds it gets nothing, and does not burn it."""
    address = new_email("meant")
    token = await invite(owner, settings, jobs, address, "MEMBER")

    stranger = await sign_up_as(make_client, new_email("stranger"))
    error = await stranger.error(ACCEPT, {"token": token})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await stranger.gql("{ workspaces { slug } }"))["workspaces"] == []

    rightful = await sign_up_as(make_client, address.upper())  # addresses match in any case
    accepted = await rightful.gql(ACCEPT, {"token": token})
    assert accepted["invitationAccept"]["workspace"]["slug"] == owner.workspace


async def test_an_admin_cannot_invite_an_owner(
    make_client: Any, owner: Client, settings: Settings, jobs: InProcessRunner
) -> None:
    """Only an OWNER hands out OWNER; ADMINs invite below that; MEMBERs do not invite."""
    admin = await join(make_client, owner, Role.ADMIN, "Ada")
    member = await join(make_client, owner, Role.MEMBER, "Mia")
    refused = new_email("notowner")
    error = await admin.error(MEMBER_INVITE, {"email": refused, "role": "OWNER"})
    assert error["extensions"]["code"] == "FORBIDDEN"
    error = await member.error(MEMBER_INVITE, {"email": refused, "role": "GUEST"})
    assert error["extensions"]["code"] == "FORBIDDEN"

    await invite(admin, settings, jobs, new_email("byadmin"), "ADMIN")
    await invite(owner, settings, jobs, new_email("coowner"), "OWNER")
    pending = (await owner.gql(INVITATIONS))["invitations"]
    assert sorted(i["role"] for i in pending) == ["ADMIN", "OWNER"]
    assert refused not in {i["email"] for i in pending}
    assert mails_to(settings, refused) == []


async def test_inviting_a_member_is_a_conflict(
    make_client: Any, owner: Client, settings: Settings, jobs: InProcessRunner
) -> None:
    """Someone already in the workspace needs a role change, not a second membership."""
    member = await join(make_client, owner, Role.MEMBER, "Mia")
    address = (await member.gql("{ viewer { email } }"))["viewer"]["email"]
    for variant in (address, address.upper()):
        error = await owner.error(MEMBER_INVITE, {"email": variant, "role": "ADMIN"})
        assert error["extensions"]["code"] == "CONFLICT"
    mine = (await owner.gql("{ viewer { email } }"))["viewer"]["email"]
    error = await owner.error(MEMBER_INVITE, {"email": mine, "role": "MEMBER"})
    assert error["extensions"]["code"] == "CONFLICT"
    assert (await owner.gql(INVITATIONS))["invitations"] == []
    await jobs.drain()
    assert mails_to(settings, address, "invitation") == []
