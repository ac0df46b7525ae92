"""Bringing a workspace to its Stripe customer's current state, and what follows from it.

The rules, whatever the order of events:
- a paid-up subscription makes the workspace ACTIVE, a failed payment PAST_DUE (still
  writable while Stripe retries), a subscription Stripe stopped collecting UNPAID or
  PAUSED (read-only, kept without an erasure date until a payment or a cancellation); all
  clear any cancellation and its erasure date (resubscribing restores everything);
- an ended subscription makes it CANCELLED and read-only, to be erased 30 days after the
  subscription ended, with a notice now and reminders before;
- no subscription at all leaves the trial's own course (TRIALING, TRIAL_EXPIRED) alone;
- while an owner's deletion request is pending, the request keeps its date and the
  billing standing is what cancelling the request returns to.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from lightningtrack import clock
from lightningtrack.models.landlord import Workspace, WorkspaceStatus
from lightningtrack.resolvers import erasure, mail
from lightningtrack.resolvers.billing import customers, gateway, notices, snapshot
from lightningtrack.resolvers.billing.snapshot import Snapshot, Standing
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
ATTEMPTS = 5
LIVE_STATUS = {
    Standing.GOOD: WorkspaceStatus.ACTIVE,
    Standing.DUE: WorkspaceStatus.PAST_DUE,
    Standing.UNPAID: WorkspaceStatus.UNPAID,
    Standing.PAUSED: WorkspaceStatus.PAUSED,
}


def cancellation_deletion(cancelled_at: datetime) -> datetime:
    return cancelled_at + erasure.CANCELLED_RETENTION


def changes_for(workspace: Workspace, state: Snapshot, fetched_at: datetime) -> dict[str, Any]:
    """The landlord fields to write for ``state``, given the workspace as it stands."""
    changes: dict[str, Any] = {
        "stripe_subscription_id": state.subscription_id,
        "plan": state.plan,
        "current_period_end": state.period_end,
        "card_last4": state.card_last4,
        "cancel_at_period_end": state.cancel_at_period_end,
        "cancel_at": state.cancel_at,
        "billing_synced_at": fetched_at,
    }
    if state.standing is Standing.NONE:
        return changes
    pending = workspace.status == WorkspaceStatus.PENDING_DELETION
    if state.standing is Standing.ENDED:
        target = WorkspaceStatus.CANCELLED
        cancelled_at = state.ended_at or clock.now()
        changes["cancelled_at"] = cancelled_at
        same_cancellation = (
            workspace.status == WorkspaceStatus.CANCELLED
            and workspace.cancelled_at == cancelled_at
            and workspace.deletion_scheduled_at is not None
        )
        # The sweep may have moved the date on (a reminder found late): keep its date.
        if not pending and not same_cancellation:
            changes["deletion_scheduled_at"] = cancellation_deletion(cancelled_at)
    else:
        target = LIVE_STATUS[state.standing]
        changes["cancelled_at"] = None
        if not pending:
            changes["deletion_scheduled_at"] = None
    if pending:
        changes["status_before_deletion"] = target
    else:
        changes["status"] = target
    return changes


def _unchanged(field: str, value: object) -> dict[str, object]:
    return {f"{field}__isnull": True} if value is None else {field: value}


async def apply(workspace_id: uuid.UUID, state: Snapshot, fetched_at: datetime) -> Workspace | None:
    """Write ``state`` unless a state fetched later is written already. The write is
    conditional on the fields the sweep may change meanwhile, and retried when it lost."""
    for _ in range(ATTEMPTS):
        workspace = await Workspace.get_or_none(id=workspace_id)
        if workspace is None:
            return None
        synced = workspace.billing_synced_at
        if synced is not None and synced > fetched_at:
            return workspace
        changes = changes_for(workspace, state, fetched_at)
        written = await Workspace.filter(
            id=workspace.id,
            status=workspace.status,
            **_unchanged("billing_synced_at", synced),
            **_unchanged("deletion_scheduled_at", workspace.deletion_scheduled_at),
        ).update(**changes)
        if written:
            return await Workspace.get(id=workspace_id)
    raise RuntimeError(f"the billing state of workspace {workspace_id} kept changing meanwhile")


async def sync_workspace(
    settings: Settings, workspace: Workspace, mentioned: str | None = None
) -> Workspace | None:
    """Fetch the workspace's Stripe state (outside any transaction) and apply it: the
    subscription on record and ``mentioned`` (an event's) are read as Stripe has them."""
    updated, _ = await refresh(settings, workspace, mentioned)
    return updated


async def refresh(
    settings: Settings, workspace: Workspace, mentioned: str | None = None, listed: bool = False
) -> tuple[Workspace | None, Snapshot | None]:
    """``sync_workspace``, also answering the state read (None without a customer);
    ``listed`` also reads the customer's newest subscriptions (see ``snapshot.fetch``)."""
    customer_id = workspace.stripe_customer_id
    if customer_id is None:
        return workspace, None
    candidates = {s for s in (workspace.stripe_subscription_id, mentioned) if s}
    # Wall time, not the app clock: it orders real fetches, also while tests move the clock.
    fetched_at = datetime.now(UTC)
    async with gateway.connect(settings) as stripe:
        state = await snapshot.fetch(settings, stripe, customer_id, candidates, listed)
    updated = await apply(workspace.id, state, fetched_at)
    if updated is not None:
        await notify(settings, updated, state)
    return updated, state


async def notify(settings: Settings, workspace: Workspace, state: Snapshot) -> None:
    """Mail what the state owes. Keyed by the subscription, so it goes out once however
    often the state is read while the end is recent (and the key remembered)."""
    if (
        state.standing is not Standing.ENDED
        or workspace.status != WorkspaceStatus.CANCELLED
        or workspace.deletion_scheduled_at is None
        or workspace.cancelled_at is None
        or clock.now() - workspace.cancelled_at > notices.CATCH_UP
    ):
        return
    message = notices.subscription_ended(
        workspace.name, workspace.deletion_scheduled_at, customers.billing_url(settings, workspace)
    )
    for owner in await customers.owners(workspace.id):
        key = f"subscription-ended:{workspace.id}:{state.subscription_id}:{owner.id}"
        await mail.queue(owner.email, message, dedupe_key=key)
