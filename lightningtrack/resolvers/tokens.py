"""One-time tokens sent by mail: 256 random bits, only the SHA-256 stored, used once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from lightningtrack import clock
from lightningtrack.models.landlord import Account, AccountToken

PASSWORD_RESET = "password_reset"  # noqa: S105 - a token purpose, not a secret
VERIFY_EMAIL = "verify_email"
LIFETIMES = {PASSWORD_RESET: timedelta(hours=1), VERIFY_EMAIL: timedelta(days=7)}


def digest(secret: str) -> str:
    """The SHA-256 (hex) kept in place of a secret: session ids, mailed tokens, API keys."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue(account: Account, purpose: str, email: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    address = email or account.email
    now = clock.now()
    await AccountToken.create(
        created_at=now,
        purpose=purpose,
        token_hash=digest(token),
        account=account,
        email=address,
        email_key=address.casefold(),
        expires_at=now + LIFETIMES[purpose],
    )
    return token


async def redeem(token: str, purpose: str) -> AccountToken | None:
    """The token's row, marked used; None if unknown, expired, used or of another purpose.

    The conditional update makes a race between two uses end with one winner.
    """
    if not token or len(token) > 128:
        return None
    now = clock.now()
    found = await AccountToken.get_or_none(
        token_hash=digest(token), purpose=purpose, used_at=None, expires_at__gt=now
    ).select_related("account")
    if found is None:
        return None
    claimed = await AccountToken.filter(id=found.id, used_at=None).update(used_at=now)
    return found if claimed else None


async def recent_count(purpose: str, email_key: str, within: timedelta) -> int:
    count: int = await AccountToken.filter(
        purpose=purpose, email_key=email_key, created_at__gte=clock.now() - within
    ).count()
    return count
