"""Accounts: sign-up, sign-in, and the rules on names and emails."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError

from lightningtrack.errors import BadUserInput, Conflict, Unauthenticated
from lightningtrack.models.landlord import Account
from lightningtrack.resolvers import passwords

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVALID_CREDENTIALS = "Invalid email or password."


def normalize_email(email: str, field: str = "email") -> tuple[str, str]:
    """(the email as given, trimmed; its case-folded key) or BAD_USER_INPUT."""
    cleaned = email.strip()
    if len(cleaned) > 320 or not _EMAIL.match(cleaned):
        raise BadUserInput("This is not a valid email address.", field=field)
    return cleaned, cleaned.casefold()


def validate_name(name: str, field: str = "name") -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= 200:
        raise BadUserInput("A name must be 1 to 200 characters long.", field=field)
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
    account = await Account.get_or_none(email_key=key) if len(key) <= 320 else None
    if len(password) > passwords.MAX_LENGTH:
        password = password[: passwords.MAX_LENGTH + 1]
    matches, new_hash = await passwords.verify_password(
        account.password_hash if account else None, password
    )
    if account is None or not matches:
        raise Unauthenticated(INVALID_CREDENTIALS)
    if new_hash is not None:
        account.password_hash = new_hash
        await Account.filter(id=account.id).update(password_hash=new_hash)
    return account
