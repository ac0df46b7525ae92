"""Teams and integrators: members, invitations and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from lightningtrack.models import landlord
from lightningtrack.resolvers import api_keys, members
from lightningtrack.resolvers.api_keys import ApiKeyScope
from lightningtrack.schema.context import Info
from lightningtrack.schema.tracking import DeletePayload, Member
from lightningtrack.schema.types import Node, Workspace, WorkspacePayload

strawberry.enum(ApiKeyScope)


@strawberry.type(name="ApiKey")
class ApiKey(Node):
    name: str
    prefix: str = strawberry.field(description="The first characters of the secret.")
    scopes: list[ApiKeyScope]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, key: landlord.ApiKey) -> Self:
        return cls(
            id=strawberry.ID(api_keys.global_id(key)),
            name=key.name,
            prefix=key.prefix,
            scopes=api_keys.scopes_of(key),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type(name="Invitation")
class Invitation(Node):
    email: str
    role: landlord.Role
    expires_at: datetime

    @classmethod
    def from_model(cls, invitation: landlord.Invitation) -> Self:
        return cls(
            id=strawberry.ID(members.invitation_id(invitation)),
            email=invitation.email,
            role=invitation.role,
            expires_at=invitation.expires_at,
        )


@strawberry.input
class ApiKeyCreateInput:
    name: str
    scopes: list[ApiKeyScope]


@strawberry.type
class ApiKeyCreatePayload:
    api_key: ApiKey
    secret: str = strawberry.field(description="Shown here once, never again.")


@strawberry.type
class TeamQuery:
    @strawberry.field(description="The bound workspace's API keys (ADMIN and OWNER).")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        keys = await api_keys.list_keys(info.context.require_membership())
        return [ApiKey.from_model(k) for k in keys]

    @strawberry.field(description="Pending invitations of the bound workspace.")
    async def invitations(self, info: Info) -> list[Invitation]:
        found = await members.pending_invitations(info.context.require_membership())
        return [Invitation.from_model(i) for i in found]


@strawberry.type
class TeamMutation:
    @strawberry.mutation(description="ADMIN and OWNER; the secret is returned once.")
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreatePayload:
        membership = info.context.require_membership()
        key, secret = await api_keys.create(membership, input.name, [s.value for s in input.scopes])
        return ApiKeyCreatePayload(api_key=ApiKey.from_model(key), secret=secret)

    @strawberry.mutation
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKey:
        key = await api_keys.revoke(info.context.require_membership(), id)
        return ApiKey.from_model(key)

    @strawberry.mutation(description="ADMIN and OWNER; mails a link valid for 7 days, once.")
    async def member_invite(self, info: Info, email: str, role: landlord.Role) -> Invitation:
        context = info.context
        # A workspace change, not an account one: an ADMIN-scope key invites as its creator.
        invitation = await members.invite(
            context.settings, context.require_membership(), context.require_account(), email, role
        )
        return Invitation.from_model(invitation)

    @strawberry.mutation(description="Joins the invitation's workspace with its role.")
    async def invitation_accept(self, info: Info, token: str) -> WorkspacePayload:
        membership = await members.accept(info.context.require_session(), token)
        return WorkspacePayload(workspace=Workspace.from_membership(membership))

    @strawberry.mutation(description="Takes effect on the member's next request.")
    async def member_remove(self, info: Info, account_id: strawberry.ID) -> DeletePayload:
        removed = await members.remove(info.context.require_membership(), account_id)
        return DeletePayload(deleted_id=strawberry.ID(removed))

    @strawberry.mutation
    async def member_role_update(
        self, info: Info, account_id: strawberry.ID, role: landlord.Role
    ) -> Member:
        target = await members.change_role(info.context.require_membership(), account_id, role)
        return Member.from_model(target)
