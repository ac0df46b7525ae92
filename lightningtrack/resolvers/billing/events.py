"""Stripe's events at ``POST /webhooks/stripe``: verified, each handled once.

An event is only a prompt: the workspace reads its customer's state from Stripe again
(``sync``), so the order of events does not matter. Mails about invoices are keyed by the
invoice (and attempt), so a repeated event sends nothing twice. The event id is recorded
after everything it caused is written; a delivery that fails half-way answers 503 and
Stripe sends it again, which redoes only what is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from tortoise.exceptions import IntegrityError

from lightningtrack import clock
from lightningtrack.models.landlord import StripeEvent, Workspace, WorkspaceStatus
from lightningtrack.resolvers import mail
from lightningtrack.resolvers.billing import customers, notices, sync
from lightningtrack.resolvers.billing.snapshot import subscription_named, timestamp
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
# Seconds a signature stays valid: an older signed delivery is refused as a replay.
TOLERANCE = 300

# Standings in which Stripe no longer collects on its own: the workspace is read-only.
STOPPED = frozenset({WorkspaceStatus.UNPAID, WorkspaceStatus.PAUSED})

# The events that can change a workspace's billing: each makes it read Stripe again.
SYNCING = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.updated",
        "invoice.paid",
        "invoice.payment_failed",
        "payment_method.attached",
        "payment_method.updated",
        "payment_method.detached",
    }
)


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str


def _customer_of(event: dict[str, Any]) -> str | None:
    data = event.get("data") or {}
    obj = data.get("object") or {}
    if obj.get("object") == "customer":
        found = obj.get("id")
    else:
        found = obj.get("customer")
        if found is None:  # a detached payment method names its customer only as before
            found = (data.get("previous_attributes") or {}).get("customer")
    if isinstance(found, dict):
        found = found.get("id")
    return found if isinstance(found, str) and found else None


async def receive(settings: Settings, payload: bytes, signature: str | None) -> Outcome:
    """Verify and handle one delivery. Raises ``StripeUnavailable`` when Stripe cannot
    be read: the caller answers 503, and Stripe delivers the event again."""
    secret = settings.stripe_webhook_secret
    if secret is None:
        return Outcome(404, "Billing is not enabled on this server.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, TOLERANCE)
    except (stripe.SignatureVerificationError, ValueError):  # ValueError: not UTF-8
        return Outcome(400, "The Stripe-Signature header does not verify this payload.")
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("object") != "event":
        return Outcome(400, "The payload is not a Stripe event.")
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or len(event_id) > 255:
        return Outcome(400, "The payload is not a Stripe event.")
    if await StripeEvent.exists(id=event_id):
        return Outcome(200, "Already handled.")
    if event_type in SYNCING:
        await _handle(settings, event_type, data)
    # A concurrent delivery of the same event may have recorded it: its effects are the same.
    with contextlib.suppress(IntegrityError):
        await StripeEvent.create(id=event_id, type=event_type[:100], received_at=clock.now())
    return Outcome(200, "Handled.")


async def _handle(settings: Settings, event_type: str, data: dict[str, Any]) -> None:
    customer_id = _customer_of(data)
    if customer_id is None:
        return
    workspace = await Workspace.get_or_none(stripe_customer_id=customer_id)
    if workspace is None:
        # An erased workspace, or a customer this installation did not create.
        log.info("Stripe event %s for an unknown customer: nothing to do", data.get("id"))
        return
    obj = (data.get("data") or {}).get("object") or {}
    updated = await sync.sync_workspace(settings, workspace, subscription_named(obj))
    if updated is None:
        return
    invoice = obj
    if event_type == "invoice.paid":
        await _receipt(settings, updated, invoice)
    elif event_type == "invoice.payment_failed":
        await _payment_failed(settings, updated, invoice)


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


async def _receipt(settings: Settings, workspace: Workspace, invoice: dict[str, Any]) -> None:
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


async def _payment_failed(
    settings: Settings, workspace: Workspace, invoice: dict[str, Any]
) -> None:
    invoice_id = invoice.get("id")
    if not isinstance(invoice_id, str):
        return
    attempt = invoice.get("attempt_count") or 0
    standing = (
        workspace.status_before_deletion
        if workspace.status == WorkspaceStatus.PENDING_DELETION
        else workspace.status
    )
    hosted = invoice.get("hosted_invoice_url")
    message = notices.payment_failed(
        workspace.name,
        _amount(invoice, "amount_due"),
        timestamp(invoice.get("next_payment_attempt")),
        customers.billing_url(settings, workspace),
        stopped=standing in STOPPED,
        invoice_url=hosted if isinstance(hosted, str) else None,
    )
    for owner in await customers.owners(workspace.id):
        key = f"payment-failed:{workspace.id}:{invoice_id}:{attempt}:{owner.id}"
        await mail.queue(owner.email, message, dedupe_key=key)
