"""Stripe's events at ``POST /webhooks/stripe``: verified, each handled once.

An event is only a prompt: the workspace reads its customer's state from Stripe again
(``sync``), so the order of events does not matter. Mails about invoices are keyed by the
invoice (and attempt), so a repeated event sends nothing twice (``invoices``). The event
id is recorded after everything it caused is written; a delivery that fails half-way
answers 503 and Stripe sends it again, which redoes only what is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from tortoise.exceptions import IntegrityError

from lightningtrack import clock
from lightningtrack.models.landlord import StripeEvent, Workspace
from lightningtrack.resolvers.billing import invoices, sync
from lightningtrack.resolvers.billing.snapshot import subscription_named
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)
# Seconds a signature stays valid: an older signed delivery is refused as a replay.
TOLERANCE = 300

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
    if event_type == "invoice.paid":
        await invoices.receipt(settings, updated, obj)
    elif event_type == "invoice.payment_failed":
        await invoices.payment_failed(settings, updated, obj)
