"""An account's erasure, workspace by workspace: where it must go and how far it got.

The account's rows (issues it created or is assigned, its comments and time entries) can
only be in workspaces it has been a member of. Those are recorded in the landlord
(``ErasureProgress``) when a membership ends and when the deletion is asked for, and
again when the erasure starts, so the list survives the memberships. Each workspace is
visited on its own, with a deadline: one that cannot be reached is tried again on later
sweeps, backing off, while the others are done and stay done. The erasure is promised
within 30 days of the request; an erasure that still waits on a workspace near that
deadline is logged as an error and counted in ``lightningtrack_account_erasures_waiting``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from lightningtrack import clock, metrics
from lightningtrack.models import workspace as wsm
from lightningtrack.models.landlord import Account, ErasureProgress
from lightningtrack.settings import Settings
from lightningtrack.tenancy import databases
from lightningtrack.tenancy.config import WORKSPACE
from lightningtrack.tenancy.runtime import Tenancy

log = logging.getLogger(__name__)

PROMISE = timedelta(days=30)
# From then on a workspace that cannot be reached is an error, not a warning.
AT_RISK = timedelta(days=3)
# Longest a visit may take: a database that does not answer must not hold up the sweep.
VISIT_TIMEOUT = 60.0
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


async def record(account_id: uuid.UUID, workspace_ids: Iterable[uuid.UUID]) -> None:
    """Note that these workspaces may hold rows naming the account (kept if known)."""
    now = clock.now()
    rows = [
        ErasureProgress(account_id=account_id, workspace_id=w, recorded_at=now)
        for w in set(workspace_ids)
    ]
    if rows:
        await ErasureProgress.bulk_create(rows, ignore_conflicts=True)


async def started(account_id: uuid.UUID) -> bool:
    """Whether the erasure has begun visiting workspaces (it can no longer be undone)."""
    return bool(
        await ErasureProgress.filter(account_id=account_id)
        .filter(Q(done_at__isnull=False) | Q(attempts__gt=0))
        .exists()
    )


def deadline(account: Account) -> datetime:
    """When the erasure must be complete: 30 days after the request. A request recorded
    without its date counts from its due date, which is earlier: the safe side."""
    if account.deletion_requested_at is not None:
        return account.deletion_requested_at + PROMISE
    assert account.deletion_scheduled_at is not None
    return account.deletion_scheduled_at


def _retry_delay(attempts: int) -> timedelta:
    delay: timedelta = FIRST_RETRY * 2 ** min(attempts - 1, 10)
    return min(LONGEST_RETRY, delay)


async def visit_due(settings: Settings, tenancy: Tenancy, account: Account) -> None:
    """Anonymise the account's rows in every workspace not done yet and due for a try,
    a few at a time; record each outcome."""
    now = clock.now()
    rows = (
        await ErasureProgress.filter(account_id=account.id, done_at=None)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("workspace")
    )
    limit = asyncio.Semaphore(settings.migrate_concurrency)

    async def visit(row: ErasureProgress) -> None:
        async with limit:
            await _visit(tenancy, account, row)

    await asyncio.gather(*(visit(row) for row in rows))


async def _visit(tenancy: Tenancy, account: Account, row: ErasureProgress) -> None:
    try:
        async with (
            asyncio.timeout(VISIT_TIMEOUT),
            tenancy.workspace(row.workspace),
            in_transaction(WORKSPACE),
        ):
            await wsm.Issue.filter(creator_id=account.id).update(creator_id=None)
            await wsm.Issue.filter(assignee_id=account.id).update(assignee_id=None)
            await wsm.Comment.filter(author_id=account.id).update(author_id=None)
            await wsm.TimeEntry.filter(account_id=account.id).update(account_id=None)
    except Exception as error:  # unreachable, or failing: tried again on a later sweep
        if not isinstance(error, TimeoutError):
            # A client whose connection failed is not kept (Tortoise's SQLite client then
            # holds its lock for good); a slow one may still serve others.
            await tenancy.pools.discard(databases.workspace_url(tenancy.settings, row.workspace))
        attempts = row.attempts + 1
        now = clock.now()
        reason = f"{type(error).__name__}: {error}"[:500]
        await ErasureProgress.filter(id=row.id).update(
            attempts=attempts, last_error=reason, next_attempt_at=now + _retry_delay(attempts)
        )
        metrics.ACCOUNT_ERASURE_VISITS.labels("failed").inc()
        due_by = deadline(account)
        level = logging.ERROR if now >= due_by - AT_RISK else logging.WARNING
        log.log(
            level,
            "account %s: its erasure, due by %s, could not reach workspace %s (%s), attempt %d: %s",
            account.id,
            due_by.isoformat(),
            row.workspace.id,
            row.workspace.slug,
            attempts,
            reason,
        )
        return
    await ErasureProgress.filter(id=row.id).update(done_at=clock.now(), last_error=None)
    metrics.ACCOUNT_ERASURE_VISITS.labels("ok").inc()


async def remaining(account_id: uuid.UUID) -> int:
    return await ErasureProgress.filter(account_id=account_id, done_at=None).count()


async def report() -> dict[str, int]:
    """Accounts due for erasure that wait on a workspace that could not be reached, by
    how their deadline stands (``ahead``, ``near``: within three days, ``passed``); set
    as gauges for alerting and returned."""
    now = clock.now()
    waiting = await ErasureProgress.filter(done_at=None, attempts__gt=0).values_list(
        "account_id", flat=True
    )
    counts = {"ahead": 0, "near": 0, "passed": 0}
    for account in await Account.filter(id__in=set(waiting), deletion_scheduled_at__lte=now):
        due_by = deadline(account)
        standing = "passed" if now >= due_by else "near" if now >= due_by - AT_RISK else "ahead"
        counts[standing] += 1
    for standing, count in counts.items():
        metrics.ACCOUNT_ERASURES_WAITING.labels(standing).set(count)
    return counts
