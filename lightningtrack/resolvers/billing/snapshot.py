"""Stripe's current state of one customer, read fresh: which subscription counts, in what
standing, on which plan, until when, and with which card.

Reading the state again on every event, instead of trusting what an event carries, makes
the outcome independent of the order and repetition in which events arrive: whichever
event comes last, the subscriptions it and the record name are read as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from lightningtrack.models.landlord import Plan
from lightningtrack.resolvers.billing import plans
from lightningtrack.resolvers.billing.gateway import Stripe
from lightningtrack.settings import Settings


class Standing(StrEnum):
    NONE = "NONE"  # never subscribed (or only checkouts that did not complete)
    GOOD = "GOOD"  # paid up
    DUE = "DUE"  # a payment failed; Stripe is retrying
    UNPAID = "UNPAID"  # every retry failed; the subscription stays until paid or cancelled
    PAUSED = "PAUSED"  # Stripe paused it: no invoices until it resumes
    ENDED = "ENDED"  # the subscription was cancelled


# Stripe subscription statuses, by the standing they give the workspace. "incomplete" and
# "incomplete_expired" never started: they count as no subscription.
STANDINGS = {
    "active": Standing.GOOD,
    "trialing": Standing.GOOD,
    "past_due": Standing.DUE,
    "unpaid": Standing.UNPAID,
    "paused": Standing.PAUSED,
    "canceled": Standing.ENDED,
}
LIVE_STATUSES = frozenset(s for s, standing in STANDINGS.items() if standing is not Standing.ENDED)
ENDED_STATUSES = frozenset({"canceled"})


@dataclass(frozen=True)
class Snapshot:
    standing: Standing
    subscription_id: str | None = None
    plan: Plan | None = None
    period_end: datetime | None = None
    ended_at: datetime | None = None
    card_last4: str | None = None
    # A live subscription set to end: at the period's end, and when (Stripe's date, else
    # the period's end).
    cancel_at_period_end: bool = False
    cancel_at: datetime | None = None
    # The subscription's latest invoice as Stripe has it (not stored): the reconciliation
    # sends what it owes when its event was lost.
    latest_invoice: dict[str, Any] | None = field(default=None, compare=False, repr=False)


def timestamp(value: object) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def current_subscription(subscriptions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The subscription that decides the workspace's standing: the newest live one, else
    the one that ended last (a resubscription outranks the cancellation before it)."""
    live = [s for s in subscriptions if s.get("status") in LIVE_STATUSES]
    if live:
        return max(live, key=lambda s: (s.get("created") or 0, str(s.get("id"))))
    ended = [s for s in subscriptions if s.get("status") in ENDED_STATUSES]
    if ended:
        return max(
            ended,
            key=lambda s: (s.get("ended_at") or s.get("canceled_at") or 0, str(s.get("id"))),
        )
    return None


def _items(subscription: dict[str, Any]) -> list[dict[str, Any]]:
    items = subscription.get("items") or {}
    data = items.get("data") if isinstance(items, dict) else None
    return [i for i in data or [] if isinstance(i, dict)]


def period_end(subscription: dict[str, Any]) -> datetime | None:
    # Newer API versions keep the period on each item, older ones on the subscription.
    ends = [i.get("current_period_end") for i in _items(subscription)]
    found = [e for e in ends if isinstance(e, int)]
    return timestamp(max(found) if found else subscription.get("current_period_end"))


def plan_of(settings: Settings, subscription: dict[str, Any]) -> Plan | None:
    for item in _items(subscription):
        price = item.get("price") or {}
        price_id = price.get("id") if isinstance(price, dict) else price
        plan = plans.plan_for_price(settings, price_id if isinstance(price_id, str) else None)
        if plan is not None:
            return plan
    return None


def card_last4(payment_method: object) -> str | None:
    """The last four digits of an expanded card payment method (an id alone tells none)."""
    if not isinstance(payment_method, dict):
        return None
    card = payment_method.get("card")
    last4 = card.get("last4") if isinstance(card, dict) else None
    return last4 if isinstance(last4, str) and len(last4) == 4 and last4.isdigit() else None


def from_subscription(
    settings: Settings, subscription: dict[str, Any] | None, card: str | None
) -> Snapshot:
    if subscription is None:
        return Snapshot(Standing.NONE, card_last4=card)
    standing = STANDINGS.get(str(subscription.get("status")), Standing.GOOD)
    ended = subscription.get("ended_at") or subscription.get("canceled_at")
    end = period_end(subscription)
    at_period_end, cancel_at = _scheduled_end(subscription, end)
    live = standing is not Standing.ENDED
    invoice = subscription.get("latest_invoice")  # expanded, or only its id
    return Snapshot(
        standing=standing,
        subscription_id=str(subscription.get("id")),
        plan=plan_of(settings, subscription),
        period_end=end,
        ended_at=None if live else timestamp(ended),
        card_last4=card,
        # Once ended, the cancellation date says it all.
        cancel_at_period_end=at_period_end and live,
        cancel_at=cancel_at if live else None,
        latest_invoice=invoice if isinstance(invoice, dict) else None,
    )


def _scheduled_end(
    subscription: dict[str, Any], end: datetime | None
) -> tuple[bool, datetime | None]:
    """Whether a subscription is set to end, and when. Newer API versions set ``cancel_at``
    to the period's end along with ``cancel_at_period_end``; older ones leave it null."""
    at_period_end = subscription.get("cancel_at_period_end") is True
    cancel_at = timestamp(subscription.get("cancel_at"))
    if cancel_at is None and at_period_end:
        cancel_at = end
    return at_period_end, cancel_at


async def fetch(
    settings: Settings,
    stripe: Stripe,
    customer_id: str,
    subscription_ids: set[str],
    listed: bool = False,
) -> Snapshot:
    """The customer's state now, from the subscriptions it is known to have (the one on
    record, and the one the event names), and with ``listed`` its newest ones too (no
    event named them: they may be unknown here). The card is the one Stripe charges: the
    subscription's default payment method, else the customer's invoice default, else its
    newest card."""
    found: list[dict[str, Any] | None] = []
    if listed:
        found += await stripe.newest_subscriptions(customer_id)
    seen = {s.get("id") for s in found if s is not None}
    found += [await stripe.subscription(sid) for sid in sorted(subscription_ids - seen)]
    # Only the customer's own: a subscription id never moves a workspace onto another's.
    own = [s for s in found if s is not None and _customer_id(s) == customer_id]
    subscription = current_subscription(own)
    card = card_last4(subscription.get("default_payment_method")) if subscription else None
    if card is None:
        customer = await stripe.customer(customer_id)
        if customer is not None:
            invoice_settings = customer.get("invoice_settings") or {}
            card = card_last4(invoice_settings.get("default_payment_method"))
            if card is None:
                card = card_last4(await stripe.newest_card(customer_id))
    return from_subscription(settings, subscription, card)


def _customer_id(obj: dict[str, Any]) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


def subscription_named(obj: dict[str, Any]) -> str | None:
    """The subscription an event's object names: itself, or the one it belongs to."""
    if obj.get("object") == "subscription":
        found = obj.get("id")
    elif obj.get("object") == "invoice":
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        found = details.get("subscription") or obj.get("subscription")  # newer, older API
    else:
        found = obj.get("subscription")  # a checkout session
    if isinstance(found, dict):
        found = found.get("id")
    return found if isinstance(found, str) and found else None
