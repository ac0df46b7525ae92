"""GraphQL input types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from lightningtrack.resolvers.time_entries import TimeEntryFilter
from lightningtrack.schema.types import IssuePriority, IssueStatus, Region


@strawberry.input
class SignUpInput:
    name: str
    email: str
    password: str


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.input
class WorkspaceCreateInput:
    name: str
    slug: str
    region: Region | None = None


def provided(data: object) -> dict[str, Any]:
    """The fields of an input the client actually sent (UNSET ones left out)."""
    return {k: v for k, v in vars(data).items() if v is not strawberry.UNSET}


@strawberry.input
class ProjectCreateInput:
    key: str
    name: str
    description: str | None = None


@strawberry.input
class ProjectUpdateInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    archived: bool | None = strawberry.UNSET


@strawberry.input
class IssueCreateInput:
    project_id: strawberry.ID
    title: str
    description: str | None = None
    status: IssueStatus | None = None
    priority: IssuePriority | None = None
    assignee_id: strawberry.ID | None = None
    labels: list[str] | None = None
    estimate_seconds: int | None = None


@strawberry.input
class IssueUpdateInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: IssueStatus | None = strawberry.UNSET
    priority: IssuePriority | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET
    labels: list[str] | None = strawberry.UNSET
    estimate_seconds: int | None = strawberry.UNSET


@strawberry.input
class CommentCreateInput:
    issue_id: strawberry.ID
    body: str


@strawberry.input
class TimeEntryCreateInput:
    issue_id: strawberry.ID
    started_at: datetime
    duration_seconds: int
    note: str | None = None
    billable: bool | None = strawberry.UNSET


@strawberry.input
class TimeEntryUpdateInput:
    started_at: datetime | None = strawberry.UNSET
    duration_seconds: int | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    billable: bool | None = strawberry.UNSET


@strawberry.input(name="TimeEntryFilter")
class TimeEntryFilterInput:
    issue_id: strawberry.ID | None = None
    project_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="startedAt >= from"
    )
    to: datetime | None = strawberry.field(default=None, description="startedAt < to")
    billable: bool | None = None

    def to_args(self) -> TimeEntryFilter:
        return TimeEntryFilter(
            issue_id=self.issue_id,
            project_id=self.project_id,
            account_id=self.account_id,
            start=self.from_,
            end=self.to,
            billable=self.billable,
        )
