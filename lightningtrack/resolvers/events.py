"""Webhook events: written to the outbox in the transaction of the change they describe.

``emit`` is called inside the change's transaction. It writes the event (its body, as
it will be signed and sent) and one delivery per enabled webhook subscribed to it, and
defers the job that sends them; the job runs only after the operation, and finds nothing
to send if the transaction rolled back. A workspace without webhooks writes nothing.

Bodies follow ``{"type": "issue.created", "timestamp": …, "workspace": {…}, "data": {…}}``;
``data`` is the record as the export archive holds it, for a deletion as it was just before.
Deleting a project sends ``project.deleted`` only, not one event per issue it held.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from lightningtrack import clock
from lightningtrack.errors import NotFound
from lightningtrack.models.integrations import (
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookMessage,
)
from lightningtrack.models.workspace import Comment, Issue, Project, TimeEntry
from lightningtrack.resolvers import exports, ids, schedule
from lightningtrack.resolvers.effects import defer
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Workspace

EVENTS = tuple(event.value for event in WebhookEvent)


def type_name(event: str) -> str:
    """ISSUE_CREATED -> issue.created, TIME_ENTRY_DELETED -> time_entry.deleted."""
    noun, _, verb = event.rpartition("_")
    return f"{noun.lower()}.{verb.lower()}"


def subscribed(webhook: Webhook) -> list[str]:
    return [e for e in webhook.events.split(",") if e]


async def emit(workspace: Workspace, event: str, row: Model) -> None:
    """Owe ``event`` about ``row`` to every enabled webhook subscribed to it. Called inside
    the change's transaction; for a deletion, before the row is deleted."""
    assert event in EVENTS, event
    hooks = [h for h in await Webhook.filter(enabled=True) if event in subscribed(h)]
    if not hooks:
        return
    data = await _BUILDERS[type(row)](workspace, row)
    now = clock.now()
    body = {
        "type": type_name(event),
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "workspace": {"id": ids.encode("Workspace", workspace.id), "slug": workspace.slug},
        "data": data,
    }
    message = await WebhookMessage.create(
        message_id=f"msg_{secrets.token_hex(16)}",
        event=event,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at=now,  # the clock's, as the 30-day pruning reads it
    )
    await WebhookDelivery.bulk_create(
        [
            WebhookDelivery(
                webhook_id=hook.id,
                message_id=message.id,
                event=event,
                next_attempt_at=now,
                created_at=now,
            )
            for hook in hooks
        ]
    )
    # Marked before the commit: should the job below be lost, the sweep finds the work.
    await schedule.mark_due(workspace.id, schedule.WEBHOOKS, now)
    defer("deliver_webhooks", workspace.id, message=message.id)


async def delete(workspace: Workspace, event: str, row: Model) -> None:
    """Delete ``row`` and owe ``event`` about it, in one transaction. A row that another
    request deleted meanwhile answers NOT_FOUND: that request sent the event, and this
    one's rolls back with the transaction, so a deletion is announced once."""
    async with in_transaction(WORKSPACE):
        await emit(workspace, event, row)
        if not await type(row).filter(pk=row.pk).delete():
            raise NotFound(f"No {type(row).__name__} with this id.")


def _records(workspace: Workspace) -> exports.WorkspaceRecords:
    # The records of the export archive (imported as a module: exports imports us back).
    return exports.WorkspaceRecords(workspace.id)


async def project_data(workspace: Workspace, project: Project) -> dict[str, Any]:
    return (await _records(workspace).projects([project]))[0]


async def issue_data(workspace: Workspace, issue: Issue) -> dict[str, Any]:
    records = _records(workspace)
    project = await Project.get(id=issue.project_id)
    records.project_keys[project.id] = project.key
    return (await records.issues([issue]))[0]


async def comment_data(workspace: Workspace, comment: Comment) -> dict[str, Any]:
    return (await _records(workspace).comments([comment]))[0]


async def time_entry_data(workspace: Workspace, entry: TimeEntry) -> dict[str, Any]:
    return (await _records(workspace).time_entries([entry]))[0]


_BUILDERS: dict[type[Model], Callable[[Workspace, Any], Awaitable[dict[str, Any]]]] = {
    Project: project_data,
    Issue: issue_data,
    Comment: comment_data,
    TimeEntry: time_entry_data,
}
