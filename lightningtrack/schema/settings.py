"""Workspace settings, and the time reports that use its timezone and week start."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self

import strawberry

from lightningtrack.models.integrations import Weekday
from lightningtrack.resolvers import time_report, workspace_settings
from lightningtrack.schema.context import Info
from lightningtrack.schema.inputs import TimeEntryFilterInput, provided
from lightningtrack.schema.tracking import Project

strawberry.enum(Weekday)


@strawberry.type(name="WorkspaceSettings")
class WorkspaceSettings:
    timezone: str = strawberry.field(description='IANA name, e.g. "Europe/Berlin".')
    week_starts_on: Weekday
    default_project: Project | None

    @classmethod
    def of(cls, found: workspace_settings.Current) -> Self:
        project = found.default_project
        return cls(
            timezone=found.timezone,
            week_starts_on=found.week_starts_on,
            default_project=Project.from_model(project) if project else None,
        )


@strawberry.input
class SettingsUpdateInput:
    timezone: str | None = strawberry.UNSET
    week_starts_on: Weekday | None = strawberry.UNSET
    default_project_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="null clears the default project."
    )


@strawberry.type(description="Time logged in one period, in the workspace's timezone.")
class TimeSpentPeriod:
    start: date = strawberry.field(description="The day, or the first day of the week.")
    total_seconds: int
    billable_seconds: int
    entry_count: int

    @classmethod
    def of(cls, bucket: time_report.Bucket) -> Self:
        return cls(
            start=bucket.start,
            total_seconds=bucket.total_seconds,
            billable_seconds=bucket.billable_seconds,
            entry_count=bucket.entries,
        )


@strawberry.type
class SettingsQuery:
    @strawberry.field(description="The bound workspace's settings (every member may read).")
    async def settings(self, info: Info) -> WorkspaceSettings:
        info.context.require_membership()
        return WorkspaceSettings.of(await workspace_settings.current())

    @strawberry.field(
        description="Time spent on each day from `from` to `to` (both included), days in "
        "the workspace's timezone; an entry counts for the day it started on."
    )
    async def time_spent_by_day(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        filter: TimeEntryFilterInput | None = None,
    ) -> list[TimeSpentPeriod]:
        info.context.require_membership()
        buckets = await time_report.by_day(from_, to, filter.to_args() if filter else None)
        return [TimeSpentPeriod.of(b) for b in buckets]

    @strawberry.field(
        description="Time spent in each week touching `from` to `to`, weeks starting on "
        "the workspace's week start; only days inside the range count."
    )
    async def time_spent_by_week(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        filter: TimeEntryFilterInput | None = None,
    ) -> list[TimeSpentPeriod]:
        info.context.require_membership()
        buckets = await time_report.by_week(from_, to, filter.to_args() if filter else None)
        return [TimeSpentPeriod.of(b) for b in buckets]


@strawberry.type
class SettingsMutation:
    @strawberry.mutation(description="ADMIN and OWNER.")
    async def settings_update(self, info: Info, input: SettingsUpdateInput) -> WorkspaceSettings:
        membership = info.context.require_membership()
        return WorkspaceSettings.of(await workspace_settings.update(membership, provided(input)))
