"""The Stripe customer of a workspace: created once, forgotten with the workspace."""

from __future__ import annotations

import logging

from lightningtrack.models.landlord import Account, Membership, Role, Workspace
from lightningtrack.resolvers.billing import gateway
from lightningtrack.settings import Settings

log = logging.getLogger(__name__)


def idempotency_key(workspace: Workspace) -> str:
    # The same key for every attempt: two clicks, a retry after a timeout, or two server
    # processes at once all get the one customer Stripe created first.
    return f"lightningtrack-customer-{workspace.id}"


async def ensure_customer(settings: Settings, workspace: Workspace) -> str:
    """The workspace's Stripe customer id, creating the customer on first use. Only the
    id is kept."""
    if workspace.stripe_customer_id:
        return workspace.stripe_customer_id
    params = {"name": workspace.name, "metadata": {"workspace_id": str(workspace.id)}}
    async with gateway.connect(settings) as stripe:
        customer_id = await stripe.create_customer(params, idempotency_key(workspace))
    stored = await Workspace.filter(id=workspace.id, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    if not stored:  # another request stored it first; with the same key it is the same one
        current = await Workspace.get(id=workspace.id)
        customer_id = current.stripe_customer_id or customer_id
    workspace.stripe_customer_id = customer_id
    return customer_id


async def forget_customer(settings: Settings, workspace: Workspace) -> None:
    """Delete the workspace's Stripe customer when the workspace is erased; Stripe ends
    any subscription with it, so nobody is charged for a workspace that is gone. Raises
    ``StripeUnavailable`` when Stripe fails: the erasure waits for the next sweep."""
    if workspace.stripe_customer_id is None:
        return
    if not settings.billing_enabled:
        log.warning(
            "workspace %s has a Stripe customer but billing is off: the customer stays in Stripe",
            workspace.id,
        )
        return
    async with gateway.connect(settings) as stripe:
        await stripe.delete_customer(workspace.stripe_customer_id)


async def owners(workspace_id: object) -> list[Account]:
    members = await Membership.filter(workspace_id=workspace_id, role=Role.OWNER).select_related(
        "account"
    )
    return [m.account for m in members]


def billing_url(settings: Settings, workspace: Workspace) -> str:
    """The app's billing page of a workspace, linked from billing mails."""
    return f"{settings.public_url}/billing?workspace={workspace.slug}"
