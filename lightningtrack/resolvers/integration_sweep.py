"""What the retention sweep does for the integrations, from the landlord's hints only.

The sweep does not open every workspace database: it looks at the workspaces whose hint
is due (``schedule``) and, for each, prunes the delivery log past 30 days and enqueues
the job that sends the due deliveries, the one that polls the due mailboxes, or the one
that mails the issue notifications a lost job left owed. Those jobs settle the hint
when done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from lightningtrack.models.landlord import Workspace
from lightningtrack.models.schedule import WorkspaceSchedule
from lightningtrack.resolvers import deliveries, schedule
from lightningtrack.resolvers.effects import Job, defer_job
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy

Work = tuple[str, str, Callable[[], Awaitable[object]]]


async def due_work(settings: Settings, tenancy: Tenancy, now: datetime) -> list[Work]:
    work: list[Work] = []
    for hint in await schedule.due(now):
        workspace = hint.workspace
        if hint.kind == schedule.WEBHOOKS:
            work.append(
                ("webhook deliveries and log", workspace.slug, _webhooks(tenancy, hint, now))
            )
        elif hint.kind == schedule.EMAIL:
            job = Job("poll_email_sources", {}, workspace.id)
            work.append(("poll mailboxes", workspace.slug, _enqueue(job)))
        elif hint.kind == schedule.NOTIFICATIONS:
            job = Job("send_notifications", {}, workspace.id)
            work.append(("issue notifications", workspace.slug, _enqueue(job)))
    return work


def _webhooks(
    tenancy: Tenancy, hint: WorkspaceSchedule, now: datetime
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if not await Workspace.exists(id=hint.workspace_id):  # erased earlier in this sweep
            return
        async with tenancy.workspace(hint.workspace):
            await deliveries.prune(now)
        defer_job(Job("deliver_webhooks", {}, hint.workspace.id))

    return run


def _enqueue(job: Job) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        defer_job(job)

    return run
