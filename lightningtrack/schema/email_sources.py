"""Email sources: mailboxes whose messages become issues; their mutations."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from lightningtrack.errors import NotFound
from lightningtrack.models import integrations as models
from lightningtrack.models.landlord import Role
from lightningtrack.resolvers import email_sources, permissions, poller
from lightningtrack.schema.context import Info
from lightningtrack.schema.inputs import provided
from lightningtrack.schema.tracking import DeletePayload, Project
from lightningtrack.schema.types import Node

NOTIFY_SENDERS = (
    "Members' comments on an issue that an outside sender mailed in are mailed to that "
    "sender (whose address is then kept with the issue), with Reply-To this mailbox."
)


@strawberry.type(name="EmailSource")
class EmailSource(Node):
    name: str
    address: str = strawberry.field(description="The mailbox whose messages become issues.")
    project: Project
    enabled: bool
    last_polled_at: datetime | None
    last_error: str | None
    created_at: datetime
    imap_host: str
    imap_port: int
    username: str
    use_tls: bool
    start_tls: bool = strawberry.field(
        description="TLS by STARTTLS on a plain connection (port 143), not implicit TLS."
    )
    folder: str
    notify_senders: bool = strawberry.field(description=NOTIFY_SENDERS)

    @classmethod
    def from_model(cls, row: models.EmailSource) -> Self:
        return cls(
            id=strawberry.ID(email_sources.global_id(row)),
            name=row.name,
            address=row.address,
            project=Project.from_model(row.project),
            enabled=row.enabled,
            last_polled_at=row.last_polled_at,
            last_error=row.last_error,
            created_at=row.created_at,
            imap_host=row.imap_host,
            imap_port=row.imap_port,
            username=row.username,
            use_tls=row.use_tls,
            start_tls=row.starttls,
            folder=row.folder,
            notify_senders=row.notify_senders,
        )


@strawberry.input
class EmailSourceCreateInput:
    name: str
    project_id: strawberry.ID
    address: str
    imap_host: str
    imap_port: int | None = None
    username: str
    password: str
    use_tls: bool | None = strawberry.field(
        default=None, description="TLS, verified; true unless set (false: development only)."
    )
    start_tls: bool | None = strawberry.field(
        default=None,
        description="With useTls: STARTTLS on a plain connection (port 143 by default) instead "
        "of implicit TLS (port 993 by default). The server must offer it.",
    )
    folder: str | None = strawberry.field(default=None, description='"INBOX" unless set.')
    notify_senders: bool | None = strawberry.field(
        default=None, description=NOTIFY_SENDERS + " False unless set."
    )


@strawberry.input
class EmailSourceUpdateInput:
    name: str | None = strawberry.UNSET
    project_id: strawberry.ID | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    password: str | None = strawberry.UNSET
    notify_senders: bool | None = strawberry.field(
        default=strawberry.UNSET, description=NOTIFY_SENDERS
    )


@strawberry.type
class EmailSourcePayload:
    email_source: EmailSource


@strawberry.type
class EmailSourceQuery:
    @strawberry.field(description="The bound workspace's email sources (every member may read).")
    async def email_sources(self, info: Info) -> list[EmailSource]:
        info.context.require_membership()
        return [EmailSource.from_model(s) for s in await email_sources.list_all()]


@strawberry.type
class EmailSourceMutation:
    @strawberry.mutation(description="ADMIN and OWNER; the password is stored encrypted.")
    async def email_source_create(
        self, info: Info, input: EmailSourceCreateInput
    ) -> EmailSourcePayload:
        context = info.context
        source = await email_sources.create(
            context.settings, context.require_membership(), vars(input)
        )
        return EmailSourcePayload(email_source=EmailSource.from_model(source))

    @strawberry.mutation
    async def email_source_update(
        self, info: Info, id: strawberry.ID, input: EmailSourceUpdateInput
    ) -> EmailSourcePayload:
        context = info.context
        source = await email_sources.update(
            context.settings, context.require_membership(), id, provided(input)
        )
        return EmailSourcePayload(email_source=EmailSource.from_model(source))

    @strawberry.mutation
    async def email_source_delete(self, info: Info, id: strawberry.ID) -> DeletePayload:
        deleted = await email_sources.delete(info.context.require_membership(), id)
        return DeletePayload(deleted_id=strawberry.ID(deleted))

    @strawberry.mutation(
        description="Fetches new mail now and answers when done (after a poll already "
        "under way, if there is one)."
    )
    async def email_source_poll(self, info: Info, id: strawberry.ID) -> EmailSource:
        context = info.context
        membership = context.require_membership()
        permissions.require_write(membership, Role.ADMIN)
        source = await email_sources.get(id)
        polled = await poller.poll(
            context.settings, membership.workspace, source.id, wait=poller.POLL_NOW_WAIT
        )
        if polled is None:
            raise NotFound("No EmailSource with this id.")
        return EmailSource.from_model(polled)
