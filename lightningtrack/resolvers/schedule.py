"""Landlord hints of integration work due in a workspace, and the sweep's actions on them.

Writers mark a workspace due (``mark_due``) before their workspace transaction commits,
so a hint exists for every row that needs work, even if the job deferred after the
commit is lost. The job that does the work settles the hint with the next moment work
is due, but only if no one marked it since it looked (``version``), so a mark made while
it ran is never overwritten. A hint that turns out early costs one look, nothing more.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from lightningtrack.models.schedule import WorkspaceSchedule

WEBHOOKS = "webhooks"
EMAIL = "email"
NOTIFICATIONS = "notifications"


async def mark_due(workspace_id: uuid.UUID, kind: str, at: datetime) -> None:
    """Work of ``kind`` is due in the workspace at ``at`` (or earlier, if so marked)."""
    rows = WorkspaceSchedule.filter(workspace_id=workspace_id, kind=kind)
    if await rows.filter(due_at__gt=at).update(due_at=at, version=F("version") + 1):
        return
    if await rows.update(version=F("version") + 1):
        return
    try:
        await WorkspaceSchedule.create(workspace_id=workspace_id, kind=kind, due_at=at)
    except IntegrityError:  # marked at the same moment by someone else
        await rows.update(version=F("version") + 1)


async def version(workspace_id: uuid.UUID, kind: str) -> int | None:
    row = await WorkspaceSchedule.get_or_none(workspace_id=workspace_id, kind=kind)
    return row.version if row else None


async def settle(
    workspace_id: uuid.UUID, kind: str, seen: int | None, next_at: datetime | None
) -> None:
    """After the work: due again at ``next_at``, or not at all, unless marked meanwhile."""
    if seen is None:
        if next_at is not None:
            await mark_due(workspace_id, kind, next_at)
        return
    rows = WorkspaceSchedule.filter(workspace_id=workspace_id, kind=kind, version=seen)
    if next_at is None:
        await rows.delete()
    else:
        await rows.update(due_at=next_at, version=F("version") + 1)


async def due(now: datetime) -> list[WorkspaceSchedule]:
    return await WorkspaceSchedule.filter(due_at__lte=now).select_related("workspace")
