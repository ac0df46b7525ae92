"""Billing: the bound workspace's plan and standing, and the Stripe-hosted pages to pay."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from lightningtrack.models import landlord
from lightningtrack.resolvers.billing import checkout
from lightningtrack.schema.context import Info

Plan = landlord.Plan
strawberry.enum(Plan, description="STANDARD: data in the US only; BUSINESS: in the EU or the US.")


@strawberry.type(name="Billing")
class Billing:
    plan: Plan | None = strawberry.field(description="Null until a subscription exists.")
    status: landlord.WorkspaceStatus
    trial_ends_at: datetime | None
    current_period_end: datetime | None
    cancelled_at: datetime | None
    cancel_at_period_end: bool = strawberry.field(
        description="The subscription is set to end at the end of the current period "
        "(cancelled in the billing portal, say); it stays usable until then."
    )
    cancel_at: datetime | None = strawberry.field(
        description="When a subscription that is set to end will end; null otherwise."
    )
    deletion_scheduled_at: datetime | None = strawberry.field(
        description="For a cancelled or expired workspace: when its data goes."
    )
    card_last4: str | None

    @classmethod
    def from_model(cls, workspace: landlord.Workspace) -> Self:
        return cls(
            plan=workspace.plan,
            status=workspace.status,
            trial_ends_at=workspace.trial_ends_at,
            current_period_end=workspace.current_period_end,
            cancelled_at=workspace.cancelled_at,
            cancel_at_period_end=workspace.cancel_at_period_end,
            cancel_at=workspace.cancel_at,
            deletion_scheduled_at=workspace.deletion_scheduled_at,
            card_last4=workspace.card_last4,
        )


@strawberry.type(name="BillingRedirect")
class BillingRedirect:
    url: str = strawberry.field(description="A Stripe-hosted page to send the browser to.")


@strawberry.type
class BillingQuery:
    @strawberry.field(description="The bound workspace's plan and standing (any member).")
    def billing(self, info: Info) -> Billing:
        return Billing.from_model(info.context.require_membership().workspace)


@strawberry.type
class BillingMutation:
    @strawberry.mutation(description="OWNER; a Stripe Checkout page for the plan.")
    async def checkout_session_create(self, info: Info, plan: Plan) -> BillingRedirect:
        context = info.context
        url = await checkout.checkout_url(context.settings, context.require_membership(), plan)
        return BillingRedirect(url=url)

    @strawberry.mutation(description="OWNER; the Stripe customer portal (card, plan, invoices).")
    async def billing_portal_session_create(self, info: Info) -> BillingRedirect:
        context = info.context
        url = await checkout.portal_url(context.settings, context.require_membership())
        return BillingRedirect(url=url)
