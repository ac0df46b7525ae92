"""Server-side sessions: a random id in one cookie, only its SHA-256 stored.

A session ends when signed out, after ``session_idle_timeout`` without a request, or
``session_lifetime`` after sign-in, whichever comes first.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from lightningtrack import clock
from lightningtrack.models.landlord import Account, Session
from lightningtrack.resolvers.tokens import digest
from lightningtrack.settings import Settings

# last_seen_at is written at most this often, so that reads do not each cost a write.
TOUCH_INTERVAL = timedelta(seconds=60)


async def start_session(settings: Settings, account: Account, user_agent: str | None) -> str:
    """Create a session and return the cookie value (32 random bytes, 256 bits)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await Session.create(
        token_hash=digest(token),
        account=account,
        last_seen_at=now,
        expires_at=now + settings.session_lifetime,
        user_agent=(user_agent or "")[:255] or None,
    )
    return token


async def find_session(settings: Settings, token: str | None) -> Session | None:
    """The live session for a cookie value, with its account loaded; None otherwise.

    An expired session is deleted on sight.
    """
    if not token or len(token) > 128:
        return None
    session = await Session.get_or_none(token_hash=digest(token)).select_related("account")
    if session is None:
        return None
    now = clock.now()
    if session.expires_at <= now or session.last_seen_at + settings.session_idle_timeout <= now:
        await session.delete()
        return None
    if now - session.last_seen_at >= TOUCH_INTERVAL:
        session.last_seen_at = now
        await Session.filter(id=session.id).update(last_seen_at=now)
    return session


async def end_session(session: Session) -> None:
    await Session.filter(id=session.id).delete()


async def end_all_sessions(account: Account) -> int:
    deleted: int = await Session.filter(account_id=account.id).delete()
    return deleted
