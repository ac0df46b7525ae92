"""GraphQL object types, enums and the Node interface, built from the models."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from lightningtrack.models import landlord, workspace
from lightningtrack.resolvers import ids

# The models' enums, registered as GraphQL enums under the same names.
Role = landlord.Role
Region = landlord.Region
WorkspaceStatus = landlord.WorkspaceStatus
IssueStatus = workspace.IssueStatus
IssuePriority = workspace.IssuePriority
for _enum in (Role, Region, WorkspaceStatus, IssueStatus, IssuePriority):
    strawberry.enum(_enum)


@strawberry.interface(description="An object with an opaque global ID.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global ID; resolves only inside the workspace it belongs to."
    )


@strawberry.type(description="A person's account.")
class Account(Node):
    name: str
    email: str
    email_verified: bool
    created_at: datetime
    deletion_scheduled_at: datetime | None = strawberry.field(
        description="Set while an erasure request is pending."
    )

    @classmethod
    def from_model(cls, account: landlord.Account) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("Account", account.id)),
            name=account.name,
            email=account.email,
            email_verified=account.email_verified,
            created_at=account.created_at,
            deletion_scheduled_at=account.deletion_scheduled_at,
        )


@strawberry.type(description="A workspace: its own database of projects, issues and more.")
class Workspace(Node):
    slug: str
    name: str
    region: Region
    status: WorkspaceStatus
    trial_ends_at: datetime | None
    deletion_scheduled_at: datetime | None = strawberry.field(
        description="Set while erasure is pending."
    )
    viewer_role: Role
    created_at: datetime

    @classmethod
    def from_membership(cls, membership: landlord.Membership) -> Self:
        workspace = membership.workspace
        return cls(
            id=strawberry.ID(ids.encode("Workspace", workspace.id)),
            slug=workspace.slug,
            name=workspace.name,
            region=workspace.region,
            status=workspace.status,
            trial_ends_at=workspace.trial_ends_at,
            deletion_scheduled_at=workspace.deletion_scheduled_at,
            viewer_role=membership.role,
            created_at=workspace.created_at,
        )


@strawberry.type
class AccountPayload:
    account: Account


@strawberry.type
class WorkspacePayload:
    workspace: Workspace
