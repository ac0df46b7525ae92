"""The root Query type."""

from __future__ import annotations

import uuid

import strawberry

from lightningtrack.resolvers import nodes, workspaces
from lightningtrack.schema.context import Info
from lightningtrack.schema.types import Account, Node, Workspace


def _uuid(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in account; null when not signed in.")
    def viewer(self, info: Info) -> Account | None:
        account = info.context.account
        return Account.from_model(account) if account else None

    @strawberry.field(description="The viewer's workspaces.")
    async def workspaces(self, info: Info) -> list[Workspace]:
        account = info.context.require_account()
        return [Workspace.from_membership(m) for m in await workspaces.memberships_of(account)]

    @strawberry.field(description="The bound workspace.")
    def workspace(self, info: Info) -> Workspace:
        return Workspace.from_membership(info.context.require_membership())

    @strawberry.field(description="Any object by its global ID, inside what the viewer may see.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        viewer = info.context.require_account()
        decoded = nodes.parse(id)
        if decoded is None or _uuid(decoded[1]) is None:
            return None
        type_name, key = decoded
        if type_name == "Account":
            bound = info.context.workspace
            account = await nodes.visible_account(viewer, bound.id if bound else None, key)
            return Account.from_model(account) if account else None
        if type_name == "Workspace":
            membership = await nodes.visible_membership(viewer, key)
            return Workspace.from_membership(membership) if membership else None
        return None
