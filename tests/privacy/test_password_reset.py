"""Password reset: the request reveals nothing, the mailed link is a strong one-time token
that ends every session, expires after an hour and cannot be requested without limit."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lightningtrack import clock
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.landlord import Account, AccountToken
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

REQUEST = "mutation($email: String!) { passwordResetRequest(email: $email) }"
RESET = (
    "mutation($token: String!, $new: String!) { passwordReset(token: $token, newPassword: $new) }"
)
NEW_PASSWORD = "battery staple 42"


async def request_reset(client: Client, address: str) -> None:
    assert await client.gql(REQUEST, {"email": address}) == {"passwordResetRequest": True}


async def reset_token(
    settings: Settings, jobs: InProcessRunner, make_client: Any, address: str
) -> str:
    """Ask for a reset of ``address`` and return the token of the newest reset mail."""
    before = len(mails_to(settings, address, "password_reset"))
    await request_reset(make_client(), address)
    await jobs.drain()
    mails = mails_to(settings, address, "password_reset")
    assert len(mails) == before + 1
    return link_token(settings, mails[-1], "/reset-password")


async def sign_in_error(make_client: Any, address: str, password: str) -> dict[str, Any] | None:
    """None if the credentials sign in, else the error."""
    body = await make_client().post(SIGN_IN, {"input": {"email": address, "password": password}})
    if body.get("errors"):
        error: dict[str, Any] = body["errors"][0]
        return error
    return None


async def test_request_answers_true_and_mails_only_known_accounts(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """The answer must not reveal whether an account exists; only a real account gets mail."""
    known = new_email("known")
    await sign_up_as(make_client, known, "Kim")
    unknown = new_email("nobody")
    anonymous: Client = make_client()
    for address in (known, unknown, "not an email", "", "@", "x" * 5000):
        await request_reset(anonymous, address)
    await jobs.drain()

    mails = mails_to(settings, known, "password_reset")
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Reset your LightningTrack password"
    text, html = parts(mails[0])
    assert "Kim" in text and "Kim" in html
    assert len(link_token(settings, mails[0], "/reset-password")) >= 43
    assert mails_to(settings, unknown) == []


async def test_the_token_is_long_random_and_stored_only_as_sha256(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """A leaked landlord database must not hold usable reset links; the link must not be
    guessable (at least 128 bits)."""
    address = new_email("hash")
    client = await sign_up_as(make_client, address)
    token = await reset_token(settings, jobs, make_client, address)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token), token

    account = await Account.get(email_key=address)
    rows = await AccountToken.filter(account_id=account.id, purpose="password_reset")
    assert [row.token_hash for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    stored = await AccountToken.filter(account_id=account.id).values()
    assert not any(token in str(value) for row in stored for value in row.values())
    assert await viewer(client) is not None  # asking for a reset ends nothing by itself


async def test_reset_sets_the_password_and_ends_every_session(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Someone resetting a password may be locking out an intruder: every session ends."""
    address = new_email("reset")
    laptop = await sign_up_as(make_client, address)
    phone: Client = make_client()
    await phone.gql(SIGN_IN, {"input": {"email": address, "password": PASSWORD}})
    assert await viewer(laptop) is not None and await viewer(phone) is not None

    token = await reset_token(settings, jobs, make_client, address)
    assert await make_client().gql(RESET, {"token": token, "new": NEW_PASSWORD}) == {
        "passwordReset": True
    }
    assert await viewer(laptop) is None
    assert await viewer(phone) is None
    assert await sign_in_error(make_client, address, NEW_PASSWORD) is None
    old = await sign_in_error(make_client, address, PASSWORD)
    assert old is not None and old["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_works_once(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """A reset link found later in a mailbox must not reset the password again."""
    address = new_email("once")
    await sign_up_as(make_client, address)
    token = await reset_token(settings, jobs, make_client, address)
    await make_client().gql(RESET, {"token": token, "new": NEW_PASSWORD})

    error = await make_client().error(RESET, {"token": token, "new": "another password"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "token"
    assert await sign_in_error(make_client, address, NEW_PASSWORD) is None
    assert await sign_in_error(make_client, address, "another password") is not None


async def test_unknown_and_garbage_tokens_are_refused(make_client: Any) -> None:
    """Anything but a live token is one and the same input error."""
    client: Client = make_client()
    for token in ("", "nope", "A" * 43, "x" * 5000):
        error = await client.error(RESET, {"token": token, "new": NEW_PASSWORD})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == "token"


async def test_a_token_expires_after_one_hour(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """The mail promises a link valid for an hour: a minute before it works, at the hour not."""
    address = new_email("expiry")
    await sign_up_as(make_client, address)
    start = datetime.now(UTC)
    clock.freeze(start)
    late = await reset_token(settings, jobs, make_client, address)
    early = await reset_token(settings, jobs, make_client, address)

    clock.freeze(start + timedelta(hours=1))
    error = await make_client().error(RESET, {"token": late, "new": NEW_PASSWORD})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "token"}

    clock.freeze(start + timedelta(minutes=59))
    await make_client().gql(RESET, {"token": early, "new": NEW_PASSWORD})
    assert await sign_in_error(make_client, address, NEW_PASSWORD) is None


@pytest.mark.parametrize("bad", ["short", "x" * 257])
async def test_a_bad_new_password_is_refused_and_keeps_the_token(
    settings: Settings, jobs: InProcessRunner, make_client: Any, bad: str
) -> None:
    """The length rules of sign-up hold here too, and a typo must not burn the link."""
    address = new_email("badpw")
    await sign_up_as(make_client, address)
    token = await reset_token(settings, jobs, make_client, address)

    error = await make_client().error(RESET, {"token": token, "new": bad})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "newPassword"}
    assert await sign_in_error(make_client, address, bad) is not None
    assert await sign_in_error(make_client, address, PASSWORD) is None

    await make_client().gql(RESET, {"token": token, "new": NEW_PASSWORD})
    assert await sign_in_error(make_client, address, NEW_PASSWORD) is None


async def test_at_most_three_reset_mails_per_hour(
    settings: Settings, jobs: InProcessRunner, make_client: Any
) -> None:
    """Reset requests must not turn the service into a mail cannon against one mailbox,
    not even when they arrive all at once, or spelled in other cases."""
    address = new_email("limit")
    await sign_up_as(make_client, address)
    anonymous: Client = make_client()
    for spelling in (address, address.upper(), f" {address} ", address, address.title()):
        await request_reset(anonymous, spelling)
    await jobs.drain()
    assert len(mails_to(settings, address, "password_reset")) == 3

    await request_reset(anonymous, address)
    await jobs.drain()
    assert len(mails_to(settings, address, "password_reset")) == 3
    account = await Account.get(email_key=address)
    assert await AccountToken.filter(account_id=account.id, purpose="password_reset").count() == 3


class TaskQueries(logging.Handler):
    """Records which asyncio task ran each SQL statement Tortoise logs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.tasks: list[asyncio.Task[Any] | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.tasks.append(asyncio.current_task())
        except RuntimeError:
            self.tasks.append(None)


@pytest.fixture
def queries() -> Iterator[TaskQueries]:
    logger = logging.getLogger("tortoise.db_client")
    handler = TaskQueries()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_the_request_looks_nothing_up_while_answering(
    settings: Settings, jobs: InProcessRunner, make_client: Any, queries: TaskQueries
) -> None:
    """If the mutation looked the account up inline, its timing would tell which emails
    have accounts; the lookup happens in a job, after the answer. The request runs in this
    test's task (ASGITransport), the job in a task of its own."""
    known = new_email("timing")
    await sign_up_as(make_client, known)
    await jobs.drain()
    anonymous: Client = make_client()
    this_task = asyncio.current_task()

    for address in (known, new_email("timing-unknown")):
        queries.tasks.clear()
        await request_reset(anonymous, address)
        inline = [task for task in queries.tasks if task is this_task]
        assert inline == [], f"{len(inline)} queries answering for {address}"

    queries.tasks.clear()
    await jobs.drain()
    # The capture works: the job did query the landlord, in another task.
    assert queries.tasks and all(task is not this_task for task in queries.tasks)
    assert len(mails_to(settings, known, "password_reset")) == 1
