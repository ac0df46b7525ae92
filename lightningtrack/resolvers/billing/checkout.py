"""Buying a plan: Stripe Checkout for a new subscription, the customer portal for the rest.

Both answer a Stripe-hosted URL to send the browser to; only OWNERs may ask. Nothing
changes here: the subscription exists once Stripe's events say so.
"""

from __future__ import annotations

from lightningtrack.errors import Conflict
from lightningtrack.models.landlord import Membership, Plan, Region, Role, WorkspaceStatus
from lightningtrack.resolvers import permissions
from lightningtrack.resolvers.billing import customers, gateway, plans
from lightningtrack.settings import Settings

# A live subscription, paid up or not: a second one would charge twice.
SUBSCRIBED = frozenset(
    {
        WorkspaceStatus.ACTIVE,
        WorkspaceStatus.PAST_DUE,
        WorkspaceStatus.UNPAID,
        WorkspaceStatus.PAUSED,
    }
)


async def checkout_url(settings: Settings, membership: Membership, plan: Plan) -> str:
    """A Checkout page for ``plan``: for a trial, an expired trial or a cancelled
    subscription (resubscribing inside the retention window keeps everything)."""
    permissions.require_role(membership, Role.OWNER)
    gateway.require_billing(settings)
    workspace = membership.workspace
    price = plans.price_for(settings, plan)
    plans.check_region(plan, Region(workspace.region))
    if workspace.status in SUBSCRIBED:
        raise Conflict(
            "This workspace already has a subscription: change its plan or card, or pay an "
            "open invoice, in the billing portal (billingPortalSessionCreate)."
        )
    if workspace.status == WorkspaceStatus.PENDING_DELETION:
        raise Conflict("This workspace is scheduled for deletion: cancel the deletion first.")
    customer_id = await customers.ensure_customer(settings, workspace)
    reference = {"workspace_id": str(workspace.id), "plan": plan.value}
    page = customers.billing_url(settings, workspace)
    params = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(workspace.id),
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": f"{page}&checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{page}&checkout=cancelled",
        "metadata": reference,
        "subscription_data": {"metadata": reference},
    }
    async with gateway.connect(settings) as stripe:
        return await stripe.create_checkout_session(params)


async def portal_url(settings: Settings, membership: Membership) -> str:
    """The customer portal: change the card, the plan, see invoices, cancel."""
    permissions.require_role(membership, Role.OWNER)
    gateway.require_billing(settings)
    workspace = membership.workspace
    if workspace.stripe_customer_id is None:
        raise Conflict("This workspace has no billing account yet: choose a plan first.")
    async with gateway.connect(settings) as stripe:
        return await stripe.create_portal_session(
            workspace.stripe_customer_id, customers.billing_url(settings, workspace)
        )
