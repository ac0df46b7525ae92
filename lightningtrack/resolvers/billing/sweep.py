"""Billing's part of the retention sweep: the week-ahead reminder before a cancelled
workspace is erased, forgetting handled Stripe event ids, and reading Stripe again for
workspaces no event refreshed for a day (``reconciliation``).

The erasure itself, and the reminder the day before it, are the sweep's own (a cancelled
workspace is erased like any other whose date has come).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from lightningtrack.models.landlord import EmailMessage, StripeEvent, Workspace, WorkspaceStatus
from lightningtrack.resolvers import mail
from lightningtrack.resolvers.billing import customers, notices, reconciliation
from lightningtrack.settings import Settings

WEEK = timedelta(days=7)
# The sweep's own reminder goes out within this lead of the erasure.
DAY = timedelta(days=1)
EVENT_RETENTION = timedelta(days=30)

# (kind, subject, run): what the sweep plans, in the sweep's own terms.
Planned = tuple[str, str, Callable[[], Awaitable[object]]]


def reminder_key(workspace: Workspace) -> str:
    assert workspace.deletion_scheduled_at is not None
    return f"cancellation-reminder:{workspace.id}:{workspace.deletion_scheduled_at.isoformat()}"


async def plan(settings: Settings, now: datetime) -> list[Planned]:
    return [
        *await _reminders(settings, now),
        *await _event_ids(now),
        *await reconciliation.plan(settings, now),
    ]


async def _reminders(settings: Settings, now: datetime) -> list[Planned]:
    planned: list[Planned] = []
    # Closer than a day, the sweep's own reminder is the one that goes out.
    soon = await Workspace.filter(
        status=WorkspaceStatus.CANCELLED,
        deletion_scheduled_at__gt=now + DAY,
        deletion_scheduled_at__lte=now + WEEK,
    )
    for workspace in soon:
        if await EmailMessage.filter(dedupe_key__startswith=reminder_key(workspace)).exists():
            continue
        planned.append(
            ("cancelled workspace reminder", workspace.slug, _remind(settings, workspace))
        )
    return planned


def _remind(settings: Settings, workspace: Workspace) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        assert workspace.deletion_scheduled_at is not None
        message = notices.cancellation_reminder(
            workspace.name,
            workspace.deletion_scheduled_at,
            customers.billing_url(settings, workspace),
        )
        key = reminder_key(workspace)
        for owner in await customers.owners(workspace.id):
            await mail.queue(owner.email, message, dedupe_key=f"{key}:{owner.id}")

    return run


async def _event_ids(now: datetime) -> list[Planned]:
    cutoff = now - EVENT_RETENTION
    old = await StripeEvent.filter(received_at__lte=cutoff).count()
    if not old:
        return []

    async def run() -> None:
        await StripeEvent.filter(received_at__lte=cutoff).delete()

    # Stripe redelivers for three days and signatures expire in minutes: older ids are
    # never needed again.
    return [("delete handled Stripe event ids older than 30 days", str(old), run)]
