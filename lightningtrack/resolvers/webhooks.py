"""Outgoing webhooks: endpoints, their secrets, and their delivery log.

Everything here is for ADMIN and OWNER, reads included: a webhook URL often carries a
token of the receiving service, and its secret signs what the workspace sends. Secrets
are ``whsec_`` and base64 of 32 random bytes, kept in the workspace's own database.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise.functions import Count

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, NotFound
from lightningtrack.models.integrations import DeliveryStatus, Webhook, WebhookDelivery
from lightningtrack.models.landlord import Role
from lightningtrack.resolvers import events, ids, permissions, schedule, targets, validation
from lightningtrack.resolvers.effects import defer
from lightningtrack.resolvers.nested import pages_by_parent
from lightningtrack.resolvers.pagination import Page, PageArgs, SortKey
from lightningtrack.tenancy.binding import bound_workspace_id

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership
    from lightningtrack.settings import Settings

TYPE = "Webhook"
DELIVERY_TYPE = "WebhookDelivery"
ROTATION_OVERLAP = timedelta(hours=24)
MAX_WEBHOOKS = 50
NEWEST_FIRST = SortKey("id", "int", descending=True)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def global_id(webhook: Webhook) -> str:
    return ids.encode_scoped(TYPE, bound_workspace_id(), webhook.id)


def delivery_id(delivery: WebhookDelivery) -> str:
    return ids.encode_scoped(DELIVERY_TYPE, bound_workspace_id(), delivery.id)


def can_see_secret(membership: Membership) -> bool:
    return permissions.has_role(membership, Role.ADMIN)


async def get(membership: Membership, global_id: str) -> Webhook:
    permissions.require_role(membership, Role.ADMIN)
    webhook = await Webhook.get_or_none(id=ids.decode_scoped(global_id, TYPE, bound_workspace_id()))
    if webhook is None:
        raise NotFound("No Webhook with this id.")
    return webhook


async def get_delivery(membership: Membership, global_id: str) -> WebhookDelivery:
    permissions.require_role(membership, Role.ADMIN)
    pk = ids.decode_scoped(global_id, DELIVERY_TYPE, bound_workspace_id())
    delivery = await WebhookDelivery.get_or_none(id=pk)
    if delivery is None:
        raise NotFound("No WebhookDelivery with this id.")
    return delivery


async def list_all(membership: Membership) -> list[Webhook]:
    permissions.require_role(membership, Role.ADMIN)
    return await Webhook.all().order_by("id")


def _events(values: list[str], field: str) -> str:
    chosen = [e for e in events.EVENTS if e in set(values)]
    if not chosen:
        raise BadUserInput("Choose at least one event.", field=field)
    return ",".join(chosen)


async def create(
    settings: Settings, membership: Membership, url: str, chosen: list[str]
) -> Webhook:
    permissions.require_write(membership, Role.ADMIN)
    clean_url = await targets.check(settings, validation.no_nul(url, "input.url"), "input.url")
    subscribed = _events(chosen, "input.events")
    if await Webhook.all().count() >= MAX_WEBHOOKS:
        raise BadUserInput(f"A workspace has at most {MAX_WEBHOOKS} webhooks.", field="input.url")
    return await Webhook.create(url=clean_url, events=subscribed, secret=new_secret())


async def update(
    settings: Settings, membership: Membership, global_id: str, changes: dict[str, Any]
) -> Webhook:
    permissions.require_write(membership, Role.ADMIN)
    webhook = await get(membership, global_id)
    if "url" in changes:
        validation.required(changes["url"], "input.url")
        webhook.url = await targets.check(
            settings, validation.no_nul(changes["url"], "input.url"), "input.url"
        )
    if "events" in changes:
        validation.required(changes["events"], "input.events")
        webhook.events = _events(changes["events"], "input.events")
    if "enabled" in changes:
        validation.required(changes["enabled"], "input.enabled")
        webhook.enabled = bool(changes["enabled"])
        if webhook.enabled:
            # Enabled again by a person: the failures so far no longer count against it.
            webhook.disabled_reason = None
            webhook.failing_since = None
        elif webhook.disabled_reason is None:
            webhook.disabled_reason = "Disabled by an admin."
    await webhook.save()
    return webhook


async def delete(membership: Membership, global_id: str) -> str:
    """Delete the endpoint with its delivery log; pending deliveries are dropped."""
    permissions.require_write(membership, Role.ADMIN)
    webhook = await get(membership, global_id)
    await webhook.delete()
    return global_id


async def rotate_secret(membership: Membership, global_id: str) -> Webhook:
    """A new secret; the current one keeps signing beside it for 24 hours. Rotating again
    within them retires the older one at once: at most two secrets sign."""
    permissions.require_write(membership, Role.ADMIN)
    webhook = await get(membership, global_id)
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = clock.now() + ROTATION_OVERLAP
    webhook.secret = new_secret()
    await webhook.save()
    return webhook


async def delivery_pages(
    webhook_ids: list[int], args: PageArgs, counter: Callable[[int], Awaitable[int]]
) -> dict[int, Page[WebhookDelivery]]:
    """The delivery logs of many endpoints, newest first, in one statement for all."""
    return await pages_by_parent(
        WebhookDelivery.all(), NEWEST_FIRST, "webhook_id", webhook_ids, args, counter
    )


async def delivery_counts(webhook_ids: list[int]) -> dict[int, int]:
    rows = (
        await WebhookDelivery.filter(webhook_id__in=webhook_ids)
        .annotate(total=Count("id"))
        .group_by("webhook_id")
        .values("webhook_id", "total")
    )
    return {row["webhook_id"]: int(row["total"]) for row in rows}


async def retry(membership: Membership, global_id: str) -> WebhookDelivery:
    """Send a delivery again now (same ``webhook-id``); a failure goes on with the
    schedule while it is recent, else it fails again at once."""
    permissions.require_write(membership, Role.ADMIN)
    delivery = await get_delivery(membership, global_id)
    now = clock.now()
    await WebhookDelivery.filter(id=delivery.id).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now
    )
    await schedule.mark_due(bound_workspace_id(), schedule.WEBHOOKS, now)
    defer("deliver_webhooks", bound_workspace_id(), message=delivery.message_id)
    await delivery.refresh_from_db()
    return delivery
