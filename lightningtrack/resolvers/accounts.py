"""Accounts: sign-up, sign-in, and the rules on names and emails."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlencode

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, Conflict, Unauthenticated
from lightningtrack.models.landlord import Account, AccountToken
from lightningtrack.resolvers import mail, passwords, sessions, tokens
from lightningtrack.settings import Settings
from lightningtrack.tenancy.config import LANDLORD

log = logging.getLogger(__name__)
RESET_LIMIT = 3
RESET_WINDOW = timedelta(hours=1)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVALID_CREDENTIALS = "Invalid email or password."


def normalize_email(email: str, field: str = "email") -> tuple[str, str]:
    """(the email as given, trimmed; its case-folded key) or BAD_USER_INPUT."""
    cleaned = email.strip()
    if len(cleaned) > 320 or not _EMAIL.fullmatch(cleaned) or "\x00" in cleaned:
        raise BadUserInput("This is not a valid email address.", field=field)
    return cleaned, cleaned.casefold()


def validate_name(name: str, field: str = "name") -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= 200:
        raise BadUserInput("A name must be 1 to 200 characters long.", field=field)
    if "\x00" in cleaned:  # PostgreSQL text cannot hold it
        raise BadUserInput("A name must not contain NUL characters.", field=field)
    return cleaned


async def sign_up(name: str, email: str, password: str) -> Account:
    clean_name = validate_name(name, "input.name")
    clean_email, key = normalize_email(email, "input.email")
    passwords.validate_password(password, "input.password")
    if await Account.exists(email_key=key):
        raise Conflict("An account with this email already exists.", field="input.email")
    password_hash = await passwords.hash_password(password)
    try:
        return await Account.create(
            name=clean_name, email=clean_email, email_key=key, password_hash=password_hash
        )
    except IntegrityError:  # two sign-ups with one email at once
        raise Conflict("An account with this email already exists.", field="input.email") from None


async def authenticate(email: str, password: str) -> Account:
    """The account for these credentials; one error for unknown email and wrong password."""
    key = email.strip().casefold()
    # No account has a longer address, or a NUL (which PostgreSQL cannot even compare).
    possible = len(key) <= 320 and "\x00" not in key
    account = await Account.get_or_none(email_key=key) if possible else None
    if len(password) > passwords.MAX_LENGTH:
        password = password[: passwords.MAX_LENGTH + 1]
    matches, new_hash = await passwords.verify_password(
        account.password_hash if account else None, password
    )
    if account is None or not matches:
        raise Unauthenticated(INVALID_CREDENTIALS)
    scheduled = account.deletion_scheduled_at
    if scheduled is not None and scheduled <= clock.now():
        # Its erasure is due or under way: nothing more may be written in its name.
        raise Unauthenticated(INVALID_CREDENTIALS)
    if new_hash is not None:
        account.password_hash = new_hash
        await Account.filter(id=account.id).update(password_hash=new_hash)
    return account


def _link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.public_url}{path}?{urlencode({'token': token})}"


async def send_registration(settings: Settings, account: Account) -> None:
    token = await tokens.issue(account, tokens.VERIFY_EMAIL)
    await mail.queue(
        account.email, mail.registration(account.name, _link(settings, "/verify-email", token))
    )


async def request_password_reset(settings: Settings, email: str) -> None:
    """Send a reset link if the address has an account; nothing else reveals whether it has.

    Runs as a job, after the request has already answered true.
    """
    key = email.strip().casefold()
    # No account has a longer address, or a NUL (which PostgreSQL cannot even compare).
    possible = len(key) <= 320 and "\x00" not in key
    account = await Account.get_or_none(email_key=key) if possible else None
    if account is None:
        return
    async with in_transaction(LANDLORD):
        # The account's row stays locked until commit (SQLite: the one writer), so
        # concurrent requests count each other's tokens: a burst cannot pass the limit.
        await Account.select_for_update().filter(id=account.id).first()
        if await tokens.recent_count(tokens.PASSWORD_RESET, key, RESET_WINDOW) >= RESET_LIMIT:
            log.info("password reset for an account refused: %s in the last hour", RESET_LIMIT)
            return
        token = await tokens.issue(account, tokens.PASSWORD_RESET)
        link = _link(settings, "/reset-password", token)
        await mail.queue(account.email, mail.password_reset(account.name, link))


async def reset_password(token: str, new_password: str) -> Account:
    passwords.validate_password(new_password, "newPassword")
    found = await tokens.redeem(token, tokens.PASSWORD_RESET)
    if found is None:
        raise BadUserInput("This reset link is invalid, used or expired.", field="token")
    account = found.account
    account.password_hash = await passwords.hash_password(new_password)
    await Account.filter(id=account.id).update(password_hash=account.password_hash)
    await sessions.end_all_sessions(account)
    return account


async def verify_email(token: str) -> Account:
    found = await tokens.redeem(token, tokens.VERIFY_EMAIL)
    if found is None or found.account.email_key != found.email_key:
        raise BadUserInput("This confirmation link is invalid, used or expired.", field="token")
    account = found.account
    account.email_verified = True
    await Account.filter(id=account.id).update(email_verified=True)
    return account


async def update_account(
    settings: Settings, account: Account, name: str | None, email: str | None
) -> Account:
    """Rectification: a new name, or a new email (unused, unverified until confirmed;
    the old address is told)."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = validate_name(name, "input.name")
    new_email = None
    if email is not None:
        clean_email, key = normalize_email(email, "input.email")
        if key != account.email_key:
            if await Account.exists(email_key=key):
                raise Conflict("An account with this email already exists.", field="input.email")
            new_email = clean_email
            changes.update(email=clean_email, email_key=key, email_verified=False)
        elif clean_email != account.email:
            changes["email"] = clean_email  # the same address, spelled differently
    if not changes:
        return account
    old_email = account.email
    try:
        await Account.filter(id=account.id).update(**changes)
    except IntegrityError:
        raise Conflict("An account with this email already exists.", field="input.email") from None
    await account.refresh_from_db()
    if new_email is not None:
        await AccountToken.filter(account_id=account.id, purpose=tokens.VERIFY_EMAIL).delete()
        token = await tokens.issue(account, tokens.VERIFY_EMAIL, new_email)
        link = _link(settings, "/verify-email", token)
        await mail.queue(new_email, mail.email_verification(account.name, link))
        await mail.queue(old_email, mail.email_changed(account.name, new_email))
    return account
