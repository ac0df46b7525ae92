"""Reading Stripe again for the workspaces no event has refreshed lately.

Stripe stops delivering an event after a few days of failures, and an outage here can lose
some: so each retention sweep reads again, as an event would, the workspaces with a Stripe
customer whose billing state was fetched more than a day before the sweep's moment (or
never), never-read first and then oldest first, at most ``BATCH`` of them, one after the
other and outside any transaction. A workspace read meanwhile (an event, another sweep) is
skipped. What a read shows to have happened unseen gets the mail its event would have
sent (keyed like the event's, so once): a receipt for a renewal or a settled debt, a
notice for a new failure. When Stripe cannot be reached the failure is logged, the workspace stays
as it was, and the rest wait for the next sweep; the sweep's other actions go on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import stripe

from lightningtrack.errors import StripeUnavailable
from lightningtrack.models.landlord import Workspace
from lightningtrack.resolvers.billing import invoices, sync
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
KIND = "sync billing from Stripe"
STALE_AFTER = timedelta(days=1)
# Reads per sweep: a sweep a minute keeps some 28,000 workspaces a day fresh, and a sweep
# stays short when Stripe is slow.
BATCH = 20


@dataclass
class _Round:
    """The reads of one sweep: once Stripe is found down, the rest wait for the next one."""

    stopped: bool = False


def _stale(workspace: Workspace, cutoff: datetime) -> bool:
    synced = workspace.billing_synced_at
    return synced is None or synced <= cutoff


async def due(now: datetime) -> list[Workspace]:
    """The workspaces this sweep reads again, in the order it reads them."""
    customers = Workspace.filter(stripe_customer_id__isnull=False)
    # Two queries: the engines disagree on where NULLs sort.
    found = list(
        await customers.filter(billing_synced_at__isnull=True)
        .order_by("created_at", "id")
        .limit(BATCH)
    )
    if len(found) < BATCH:
        old = (
            await customers.filter(billing_synced_at__lte=now - STALE_AFTER)
            .order_by("billing_synced_at", "id")
            .limit(BATCH - len(found))
        )
        found += old
    return found


async def plan(
    settings: Settings, now: datetime
) -> list[tuple[str, str, Callable[[], Awaitable[None]]]]:
    if not settings.billing_enabled:
        return []
    reads = _Round()
    return [
        (KIND, workspace.slug, _read(settings, workspace.id, now, reads))
        for workspace in await due(now)
    ]


def _read(
    settings: Settings, workspace_id: uuid.UUID, now: datetime, reads: _Round
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if reads.stopped:
            return
        workspace = await Workspace.get_or_none(id=workspace_id)
        if workspace is None or not _stale(workspace, now - STALE_AFTER):
            return  # erased, or read since the sweep was planned
        try:
            # Listed, not only the subscription on record: the lost event may have been
            # the one that named a new one (a checkout, a resubscription).
            updated, state = await sync.refresh(settings, workspace, listed=True)
        except StripeUnavailable as error:
            # A request Stripe refused concerns this customer only; anything else (down,
            # slow, rate-limited, the key refused) would fail the next reads too.
            reads.stopped = not isinstance(error.__cause__, stripe.InvalidRequestError)
            log.warning(
                "the billing of workspace %s could not be read from Stripe%s; the next "
                "sweep tries again",
                workspace.id,
                " (the rest wait too)" if reads.stopped else "",
            )
            return
        if updated is not None and state is not None:
            await invoices.catch_up(settings, workspace, updated, state.latest_invoice, now)

    return run
