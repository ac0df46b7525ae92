"""The mails an invoice owes the workspace's owners: a receipt once it is paid, a notice
for each failed attempt to charge it.

Each is keyed by the invoice (and the attempt), so it goes out once whether Stripe's event
or the sweep's reconciliation comes first, and however often either repeats. The
reconciliation mails only about what its own read shows to have happened unseen (a new
period, a payment or a failure the landlord did not know of), and only about a recent
invoice: the keys of sent mail go with the mail log after 30 days, so a key cannot be
what keeps a read repeated later from mailing again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lightningtrack.models.landlord import Workspace, WorkspaceStatus
from lightningtrack.resolvers import mail
from lightningtrack.resolvers.billing import customers, notices
from lightningtrack.resolvers.billing.snapshot import timestamp
from lightningtrack.settings import Settings

# Standings in which Stripe no longer collects on its own: the workspace is read-only.
STOPPED = frozenset({WorkspaceStatus.UNPAID, WorkspaceStatus.PAUSED})
OWING = frozenset({WorkspaceStatus.PAST_DUE, WorkspaceStatus.UNPAID})


def standing(workspace: Workspace) -> WorkspaceStatus:
    """The billing standing, also while a deletion request is pending."""
    if workspace.status == WorkspaceStatus.PENDING_DELETION and workspace.status_before_deletion:
        return WorkspaceStatus(workspace.status_before_deletion)
    return WorkspaceStatus(workspace.status)


def _period(invoice: dict[str, Any]) -> tuple[datetime, datetime] | None:
    lines = (invoice.get("lines") or {}).get("data") or []
    periods = [line.get("period") or {} for line in lines if isinstance(line, dict)]
    starts = [timestamp(p.get("start")) for p in periods]
    ends = [timestamp(p.get("end")) for p in periods]
    start = min((s for s in starts if s), default=timestamp(invoice.get("period_start")))
    end = max((e for e in ends if e), default=timestamp(invoice.get("period_end")))
    return (start, end) if start and end else None


def _amount(invoice: dict[str, Any], field: str) -> str:
    amount = invoice.get(field)
    currency = invoice.get("currency")
    return notices.money(
        amount if isinstance(amount, int) else 0, currency if isinstance(currency, str) else "usd"
    )


async def receipt(settings: Settings, workspace: Workspace, invoice: dict[str, Any]) -> None:
    invoice_id = invoice.get("id")
    if not isinstance(invoice_id, str):
        return
    message = notices.receipt(
        workspace.name,
        _amount(invoice, "amount_paid"),
        _period(invoice),
        invoice.get("number"),
        invoice.get("hosted_invoice_url"),
    )
    for owner in await customers.owners(workspace.id):
        key = f"receipt:{workspace.id}:{invoice_id}:{owner.id}"
        await mail.queue(owner.email, message, dedupe_key=key)


async def payment_failed(settings: Settings, workspace: Workspace, invoice: dict[str, Any]) -> None:
    invoice_id = invoice.get("id")
    if not isinstance(invoice_id, str):
        return
    attempt = invoice.get("attempt_count") or 0
    hosted = invoice.get("hosted_invoice_url")
    message = notices.payment_failed(
        workspace.name,
        _amount(invoice, "amount_due"),
        timestamp(invoice.get("next_payment_attempt")),
        customers.billing_url(settings, workspace),
        stopped=standing(workspace) in STOPPED,
        invoice_url=hosted if isinstance(hosted, str) else None,
    )
    for owner in await customers.owners(workspace.id):
        key = f"payment-failed:{workspace.id}:{invoice_id}:{attempt}:{owner.id}"
        await mail.queue(owner.email, message, dedupe_key=key)


async def catch_up(
    settings: Settings, before: Workspace, after: Workspace, invoice: object, now: datetime
) -> None:
    """What the subscription's latest invoice owes when a read moved the workspace from
    ``before`` to ``after`` and the events saying so never came: the receipt of a payment
    (a new period, or a debt settled), the notice of a failure (a debt that is new, or
    that Stripe stopped collecting)."""
    if not isinstance(invoice, dict):
        return
    was, now_is = standing(before), standing(after)
    status = invoice.get("status")
    if status == "paid":
        paid_at = timestamp((invoice.get("status_transitions") or {}).get("paid_at"))
        renewed = before.current_period_end != after.current_period_end
        settled = was != now_is and now_is == WorkspaceStatus.ACTIVE
        if (renewed or settled) and paid_at is not None and now - paid_at <= notices.CATCH_UP:
            await receipt(settings, after, invoice)
    elif status == "open" and (invoice.get("attempt_count") or 0) > 0:
        created = timestamp(invoice.get("created"))
        worse = was != now_is and now_is in OWING | STOPPED
        if worse and created is not None and now - created <= notices.CATCH_UP:
            await payment_failed(settings, after, invoice)
