"""Rectification (accountUpdate): a person may correct their name and their email; a new
email must be proven again, and the old address is told of the change."""

from __future__ import annotations

from typing import Any

from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account
from lightningtrack.settings import Settings
from tests.conftest import Client
from tests.privacy.conftest import (
    PASSWORD,
    SIGN_IN,
    link_token,
    mails_to,
    new_email,
    parts,
    sign_up_as,
    viewer,
)

UPDATE = """
mutation($input: AccountUpdateInput!) {
  accountUpdate(input: $input) { account { id name email emailVerified } }
}
"""
VERIFY = "mutation($token: String!) { emailVerify(token: $token) { account { emailVerified } } }"


async def verified_account(
    settings: Settings, jobs: InProcessRunner, make_client: Any, address: str
) -> Client:
    """A signed-in account whose registration link has been followed."""
    client = await sign_up_as(make_client, address, "Rita")
    await jobs.drain()
    token = link_token(settings, mails_to(settings, address, "registration")[0], "/verify-email")
    await make_client().gql(VERIFY, {"token": token})
    return client


async def test_the_name_can_be_corrected(make_client: Any) -> None:
    """A name is shown to teammates: the person must be able to fix it (trimmed)."""
    client = await sign_up_as(make_client, new_email("name"), "Rita")
    data = await client.gql(UPDATE, {"input": {"name": "  Rita Levi-Montalcini ✓ "}})
    assert data["accountUpdate"]["account"]["name"] == "Rita Levi-Montalcini ✓"
    found = await viewer(client)
    assert found is not None and found["name"] == "Rita Levi-Montalcini ✓"

    for bad in ("", "   ", "x" * 201):
        error = await client.error(UPDATE, {"input": {"name": bad}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.name"}
    found = await viewer(client)
    assert found is not None and found["name"] == "Rita Levi-Montalcini ✓"


async def test_a_new_email_must_be_verified_and_the_old_one_is_told(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Whoever took over a session must not silently move the account to their mailbox:
    the new address is unverified until proven, and the old one hears of it."""
    old = new_email("old")
    client = await verified_account(settings, jobs, make_client, old)
    found = await viewer(client)
    assert found is not None and found["emailVerified"] is True

    new = new_email("new")
    data = await client.gql(UPDATE, {"input": {"email": f" {new} "}})
    assert data["accountUpdate"]["account"]["email"] == new
    assert data["accountUpdate"]["account"]["emailVerified"] is False
    await jobs.drain()

    verification = mails_to(settings, new, "email_verification")
    assert len(verification) == 1
    assert mails_to(settings, new, "email_changed") == []
    notices = mails_to(settings, old, "email_changed")
    assert len(notices) == 1
    text, html = parts(notices[0])
    assert new in text and new in html
    assert mails_to(settings, old, "email_verification") == []

    token = link_token(settings, verification[0], "/verify-email")
    assert (await make_client().gql(VERIFY, {"token": token}))["emailVerify"]["account"] == {
        "emailVerified": True
    }
    found = await viewer(client)
    assert found is not None and found["email"] == new and found["emailVerified"] is True
    await make_client().gql(SIGN_IN, {"input": {"email": new, "password": PASSWORD}})
    error = await make_client().error(SIGN_IN, {"input": {"email": old, "password": PASSWORD}})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_old_verification_link_does_not_verify_a_new_email(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """The registration link proved the old mailbox, not the new one."""
    old = new_email("stale-old")
    client = await sign_up_as(make_client, old)
    await jobs.drain()
    stale = link_token(settings, mails_to(settings, old, "registration")[0], "/verify-email")
    await client.gql(UPDATE, {"input": {"email": new_email("stale-new")}})

    error = await make_client().error(VERIFY, {"token": stale})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}
    found = await viewer(client)
    assert found is not None and found["emailVerified"] is False


async def test_an_email_of_another_account_is_a_conflict_in_any_case(make_client: Any) -> None:
    """Two accounts must never share a mailbox, whatever the spelling."""
    taken = new_email("taken")
    await sign_up_as(make_client, taken)
    mine = new_email("mine")
    client = await sign_up_as(make_client, mine)

    for spelling in (taken, taken.upper(), f"  {taken.title()} "):
        error = await client.error(UPDATE, {"input": {"email": spelling, "name": "Changed"}})
        assert error["extensions"] == {"code": "CONFLICT", "field": "input.email"}
    account = await Account.get(email_key=mine)
    assert (account.email, account.name) == (mine, "Pia")


async def test_an_invalid_email_is_refused(make_client: Any) -> None:
    """Rectification has the same rules for an address as sign-up."""
    address = new_email("valid")
    client = await sign_up_as(make_client, address)
    for bad in ("", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com"):
        error = await client.error(UPDATE, {"input": {"email": bad}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.email"}
    found = await viewer(client)
    assert found is not None and found["email"] == address


async def test_the_same_email_in_another_case_needs_no_new_proof(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Re-spelling one's own address is no change of mailbox: it stays verified, no mail."""
    address = new_email("case")
    client = await verified_account(settings, jobs, make_client, address)
    data = await client.gql(UPDATE, {"input": {"email": address.upper()}})
    assert data["accountUpdate"]["account"]["email"] == address.upper()
    assert data["accountUpdate"]["account"]["emailVerified"] is True
    await jobs.drain()
    assert [m["X-LightningTrack-Kind"] for m in mails_to(settings, address)] == ["registration"]


async def test_signed_out_cannot_update(make_client: Any) -> None:
    """Rectification acts on the viewer's own account only."""
    error = await make_client().error(UPDATE, {"input": {"name": "Nobody"}})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
