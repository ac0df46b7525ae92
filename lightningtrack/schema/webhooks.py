"""Outgoing webhooks: endpoints, deliveries, and their mutations (ADMIN and OWNER)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

import strawberry
from strawberry import Private
from strawberry.dataloader import DataLoader

from lightningtrack.errors import Forbidden, NotFound
from lightningtrack.models import integrations as models
from lightningtrack.resolvers import email_sources, events, webhooks
from lightningtrack.resolvers.pagination import Page, PageArgs
from lightningtrack.schema.context import Info
from lightningtrack.schema.email_sources import EmailSource
from lightningtrack.schema.inputs import provided
from lightningtrack.schema.tracking import (
    Connection,
    DeletePayload,
    connection,
    counts_only,
    page_args,
    wants_rows,
)
from lightningtrack.schema.types import Node

WebhookEvent = models.WebhookEvent
DeliveryStatus = models.DeliveryStatus
strawberry.enum(WebhookEvent)
strawberry.enum(DeliveryStatus)


@strawberry.type(name="WebhookDelivery")
class WebhookDelivery(Node):
    event: WebhookEvent
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed: the HTTP status, a timeout, a refusal."
    )
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def from_model(cls, row: models.WebhookDelivery) -> Self:
        return cls(
            id=strawberry.ID(webhooks.delivery_id(row)),
            event=WebhookEvent(row.event),
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            response_status=row.response_status,
            last_error=row.last_error,
            created_at=row.created_at,
            last_attempt_at=row.last_attempt_at,
            next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        )


WebhookDeliveryConnection = Connection[WebhookDelivery]


async def _delivery_counts(keys: list[int]) -> list[int]:
    found = await webhooks.delivery_counts(list(dict.fromkeys(keys)))
    return [found.get(key, 0) for key in keys]


@dataclass
class DeliveryLoaders:
    """WebhookDeliveryPageByWebhookLoader and WebhookDeliveryCountByWebhookLoader, shared
    by the webhooks of one answer: their delivery logs cost two statements together,
    however many webhooks there are."""

    count_by_webhook: DataLoader[int, int] = field(
        default_factory=lambda: DataLoader(load_fn=_delivery_counts)
    )
    page_by_webhook: DataLoader[tuple[int, PageArgs], Page[models.WebhookDelivery]] = field(
        init=False
    )

    def __post_init__(self) -> None:
        self.page_by_webhook = DataLoader(load_fn=self._pages)

    async def _pages(self, keys: list[tuple[int, PageArgs]]) -> list[Page[models.WebhookDelivery]]:
        by_args: dict[PageArgs, list[int]] = {}
        for webhook_id, args in keys:
            by_args.setdefault(args, []).append(webhook_id)
        found: dict[tuple[int, PageArgs], Page[models.WebhookDelivery]] = {}
        for args, webhook_ids in by_args.items():
            pages = await webhooks.delivery_pages(
                list(dict.fromkeys(webhook_ids)), args, self.count_by_webhook.load
            )
            for webhook_id, page in pages.items():
                found[(webhook_id, args)] = page
        return [found[key] for key in keys]


@strawberry.type(name="Webhook")
class Webhook(Node):
    url: str
    events: list[WebhookEvent]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    model: Private[models.Webhook]
    loaders: Private[DeliveryLoaders]

    @classmethod
    def from_model(cls, row: models.Webhook, loaders: DeliveryLoaders | None = None) -> Self:
        return cls(
            id=strawberry.ID(webhooks.global_id(row)),
            url=row.url,
            events=[WebhookEvent(e) for e in events.subscribed(row)],
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
            model=row,
            loaders=loaders or DeliveryLoaders(),
        )

    @strawberry.field(description="ADMIN and OWNER only; kept in the workspace's database.")
    def secret(self, info: Info) -> str:
        if not webhooks.can_see_secret(info.context.require_membership()):
            raise Forbidden("Only admins and owners see webhook secrets.")
        return self.model.secret

    @strawberry.field(description="The delivery log, newest first; kept 30 days.")
    async def deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookDeliveryConnection:
        args = page_args(first, after, last, before).validated()
        webhook_id = self.model.id
        if not wants_rows(info):

            async def count() -> int:
                return await self.loaders.count_by_webhook.load(webhook_id)

            return connection(
                WebhookDeliveryConnection, counts_only(count), WebhookDelivery.from_model
            )
        page = await self.loaders.page_by_webhook.load((webhook_id, args))
        return connection(WebhookDeliveryConnection, page, WebhookDelivery.from_model)


@strawberry.input
class WebhookCreateInput:
    url: str
    events: list[WebhookEvent]


@strawberry.input
class WebhookUpdateInput:
    url: str | None = strawberry.UNSET
    events: list[WebhookEvent] | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


@strawberry.type
class WebhookPayload:
    webhook: Webhook


def _names(values: list[WebhookEvent] | None) -> list[str] | None:
    return None if values is None else [v.value for v in values]


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The bound workspace's webhooks (ADMIN and OWNER).")
    async def webhooks(self, info: Info) -> list[Webhook]:
        found = await webhooks.list_all(info.context.require_membership())
        loaders = DeliveryLoaders()
        return [Webhook.from_model(w, loaders) for w in found]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="ADMIN and OWNER; https URLs (http to loopback in development)."
    )
    async def webhook_create(self, info: Info, input: WebhookCreateInput) -> WebhookPayload:
        context = info.context
        webhook = await webhooks.create(
            context.settings, context.require_membership(), input.url, _names(input.events) or []
        )
        return WebhookPayload(webhook=Webhook.from_model(webhook))

    @strawberry.mutation
    async def webhook_update(
        self, info: Info, id: strawberry.ID, input: WebhookUpdateInput
    ) -> WebhookPayload:
        context = info.context
        changes = provided(input)
        if "events" in changes:
            changes["events"] = _names(changes["events"])
        webhook = await webhooks.update(context.settings, context.require_membership(), id, changes)
        return WebhookPayload(webhook=Webhook.from_model(webhook))

    @strawberry.mutation(description="Deletes the webhook with its delivery log.")
    async def webhook_delete(self, info: Info, id: strawberry.ID) -> DeletePayload:
        deleted = await webhooks.delete(info.context.require_membership(), id)
        return DeletePayload(deleted_id=strawberry.ID(deleted))

    @strawberry.mutation(description="A new secret; the old one keeps signing for 24 hours.")
    async def webhook_secret_rotate(self, info: Info, id: strawberry.ID) -> WebhookPayload:
        webhook = await webhooks.rotate_secret(info.context.require_membership(), id)
        return WebhookPayload(webhook=Webhook.from_model(webhook))

    @strawberry.mutation(description="Sends the delivery again now, with the same webhook-id.")
    async def webhook_delivery_retry(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        delivery = await webhooks.retry(info.context.require_membership(), id)
        return WebhookDelivery.from_model(delivery)


async def integration_node(info: Info, type_name: str, global_id: str) -> Node | None:
    """``node(id:)`` for webhooks, deliveries and email sources: null for anyone who may
    not see them."""
    membership = info.context.require_membership()
    try:
        if type_name == "Webhook":
            return Webhook.from_model(await webhooks.get(membership, global_id))
        if type_name == "WebhookDelivery":
            return WebhookDelivery.from_model(await webhooks.get_delivery(membership, global_id))
        if type_name == "EmailSource":
            return EmailSource.from_model(await email_sources.get(global_id))
    except (NotFound, Forbidden):
        return None
    return None
