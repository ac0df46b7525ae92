"""Polling email sources: new messages of a mailbox become issues and comments.

A poll claims its source first, so overlapping polls (the schedule and ``emailSourcePoll``
at once, two workers) do not read the same mailbox together; a crashed poll's claim
runs out by itself. What is new is decided by UID (per UIDVALIDITY), and every message is
recorded by its Message-ID with what it created, so even a poll that crashed half-way
and is run again creates nothing twice. A message that is too large or malformed is
recorded as skipped and named in ``lastError``; it never stops the poll, and no failure
of one source stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.expressions import Q
from tortoise.functions import Min

from lightningtrack import clock
from lightningtrack.models.integrations import EmailSource
from lightningtrack.models.landlord import Workspace
from lightningtrack.resolvers import credentials, inbound, schedule, targets
from lightningtrack.resolvers.mailbox import Account, MailboxError, Session
from lightningtrack.tenancy.binding import bound_workspace_id

if TYPE_CHECKING:
    from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
CLAIM = timedelta(minutes=10)
# How long emailSourcePoll waits for a poll already under way (each IMAP step has 30 s).
POLL_NOW_WAIT = 60.0
BATCH = 50
MAX_BYTES = 10 * 1024 * 1024


async def _account(settings: Settings, source: EmailSource) -> Account:
    try:
        password = credentials.decrypt(settings, bound_workspace_id(), source.password_encrypted)
    except credentials.CredentialUnreadable:
        raise MailboxError(
            "The stored password cannot be read (the server's secret key changed): "
            "set it again with emailSourceUpdate."
        ) from None
    if settings.production and not source.use_tls:
        raise MailboxError("IMAP without TLS is refused in production.")
    try:
        address = await targets.pick_address(settings, source.imap_host, source.imap_port)
    except targets.TargetRefused as refusal:
        raise MailboxError(str(refusal)) from None
    return Account(
        host=source.imap_host,
        address=str(address),
        port=source.imap_port,
        use_tls=source.use_tls,
        username=source.username,
        password=password,
        folder=source.folder,
        starttls=source.starttls,
        ca_file=settings.imap_ca_file,
    )


async def _claim(source_id: int) -> bool:
    now = clock.now()
    return bool(
        await EmailSource.filter(
            Q(claimed_until=None) | Q(claimed_until__lt=now), id=source_id
        ).update(claimed_until=now + CLAIM)
    )


async def poll(
    settings: Settings, workspace: Workspace, source_id: int, wait: float = 0.0
) -> EmailSource | None:
    """Poll one source now; the source as it is after. If a poll of it is under way, wait
    up to ``wait`` seconds for it to end and poll then, else leave it to that one."""
    claimed = await _claim(source_id)
    deadline = asyncio.get_running_loop().time() + wait
    while not claimed and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        claimed = await _claim(source_id)
    if claimed:
        source = await EmailSource.get(id=source_id)
        problems: list[str] = []
        try:
            problems = await _read(settings, workspace, source)
        except MailboxError as error:
            problems = [str(error)]
        except Exception:
            log.exception("polling email source %s failed", source_id)
            problems = ["Unexpected error while polling; it is logged and retried."]
        finally:
            await EmailSource.filter(id=source_id).update(
                claimed_until=None,
                last_polled_at=clock.now(),
                last_error="; ".join(problems)[:500] or None,
                next_poll_at=clock.now() + timedelta(seconds=settings.email_poll_seconds),
            )
    return await EmailSource.get_or_none(id=source_id).select_related("project")


async def _read(settings: Settings, workspace: Workspace, source: EmailSource) -> list[str]:
    account = await _account(settings, source)
    session = await asyncio.to_thread(Session, account)
    problems: list[str] = []
    try:
        last_uid = source.last_uid if source.uid_validity == session.uid_validity else 0
        uids = await asyncio.to_thread(session.uids_after, last_uid)
        for uid in uids[:BATCH]:
            problem = await _one(session, workspace, source, uid)
            if problem:
                problems.append(problem)
            await EmailSource.filter(id=source.id).update(
                last_uid=uid, uid_validity=session.uid_validity
            )
        if not uids:
            await EmailSource.filter(id=source.id).update(uid_validity=session.uid_validity)
    finally:
        await asyncio.to_thread(session.close)
    return problems


async def _one(session: Session, workspace: Workspace, source: EmailSource, uid: int) -> str | None:
    """Handle one message; a sentence for ``lastError`` if it was skipped."""
    marker = f"<uid-{session.uid_validity}-{uid}.source-{source.id}@lightningtrack.invalid>"
    size = await asyncio.to_thread(session.size, uid)
    if size > MAX_BYTES:
        why = f"Message {uid} skipped: {size} bytes, more than {MAX_BYTES}."
        await inbound.record_skipped(source, marker, why)
        return why
    raw = await asyncio.to_thread(session.fetch, uid)
    if raw is None:
        return None
    try:
        mail = inbound.parse(raw)
    except inbound.Malformed as malformed:
        why = f"Message {uid} skipped: {malformed}"
        await inbound.record_skipped(source, inbound.synthetic_id(raw), why)
        return why
    await inbound.handle(workspace, source, mail)
    return None


async def poll_due(settings: Settings) -> int:
    """Poll the bound workspace's enabled sources that are due; settle its hint."""
    workspace_id = bound_workspace_id()
    seen = await schedule.version(workspace_id, schedule.EMAIL)
    workspace = await Workspace.get_or_none(id=workspace_id)
    if workspace is None:
        return 0
    now = clock.now()
    due = await EmailSource.filter(
        Q(next_poll_at=None) | Q(next_poll_at__lte=now), enabled=True
    ).values_list("id", flat=True)
    for source_id in due:
        await poll(settings, workspace, source_id)  # type: ignore[arg-type]
    await schedule.settle(workspace_id, schedule.EMAIL, seen, await _next_poll())
    return len(due)


async def _next_poll() -> datetime | None:
    rows = await EmailSource.filter(enabled=True).annotate(at=Min("next_poll_at")).values("at")
    if await EmailSource.filter(enabled=True, next_poll_at=None).exists():
        return clock.now()
    found = [r["at"] for r in rows if r["at"] is not None]
    return min(found) if found else None
