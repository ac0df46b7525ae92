"""Email verification: sign-up mails a one-time link that proves the address, for 7 days."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, AccountToken
from lightningtrack.settings import Settings
from tests.conftest import Client
from tests.privacy.conftest import link_token, mails_to, new_email, parts, sign_up_as, viewer

VERIFY = "mutation($token: String!) { emailVerify(token: $token) { account { id emailVerified } } }"
RESET_REQUEST = "mutation($email: String!) { passwordResetRequest(email: $email) }"


async def registration_token(
    settings: Settings, jobs: InProcessRunner, make_client: Any, address: str
) -> tuple[Client, str]:
    client = await sign_up_as(make_client, address, "Vera")
    await jobs.drain()
    mails = mails_to(settings, address, "registration")
    assert len(mails) == 1
    return client, link_token(settings, mails[0], "/verify-email")


async def test_sign_up_mails_a_verification_link(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Registration mail is promised by the privacy policy, with a link of the contract."""
    address = new_email("welcome")
    _, token = await registration_token(settings, jobs, make_client, address)
    mail = mails_to(settings, address, "registration")[0]
    assert mail["Subject"] == "Welcome to LightningTrack: confirm your email address"
    assert "Vera" in parts(mail)[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)
    account = await Account.get(email_key=address)
    rows = await AccountToken.filter(account_id=account.id, purpose="verify_email")
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]


async def test_the_link_verifies_the_address_once(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Following the link (signed in or not) marks the email verified; it is spent after."""
    address = new_email("verify")
    client, token = await registration_token(settings, jobs, make_client, address)
    before = await viewer(client)
    assert before is not None and before["emailVerified"] is False

    data = await make_client().gql(VERIFY, {"token": token})
    assert data["emailVerify"]["account"] == {"id": before["id"], "emailVerified": True}
    after = await viewer(client)
    assert after is not None and after["emailVerified"] is True

    error = await make_client().error(VERIFY, {"token": token})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}


async def test_an_expired_link_is_refused(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """A verification link lives 7 days; after that it proves nothing."""
    start = datetime.now(UTC)
    clock.freeze(start)
    address = new_email("stale")
    _, token = await registration_token(settings, jobs, make_client, address)

    clock.freeze(start + timedelta(days=7, seconds=1))
    error = await make_client().error(VERIFY, {"token": token})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}
    assert (await Account.get(email_key=address)).email_verified is False


async def test_a_reset_token_does_not_verify_an_email(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Tokens have one purpose: a password-reset link must not double as a verification."""
    address = new_email("purpose")
    await sign_up_as(make_client, address)
    await make_client().gql(RESET_REQUEST, {"email": address})
    await jobs.drain()
    reset = link_token(
        settings, mails_to(settings, address, "password_reset")[0], "/reset-password"
    )

    error = await make_client().error(VERIFY, {"token": reset})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}
    assert (await Account.get(email_key=address)).email_verified is False
    for garbage in ("", "nope", "x" * 5000):
        error = await make_client().error(VERIFY, {"token": garbage})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
