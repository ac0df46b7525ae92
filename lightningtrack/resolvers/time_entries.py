"""Time entries: work logged on issues, listed with filters and totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.expressions import Subquery
from tortoise.functions import Sum
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from lightningtrack.errors import NotFound
from lightningtrack.models.workspace import TimeEntry
from lightningtrack.resolvers import events, ids, issues, permissions, projects, validation
from lightningtrack.resolvers.pagination import Page, PageArgs, SortKey, paginate
from lightningtrack.tenancy.binding import bound_workspace_id
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

TYPE = "TimeEntry"
ORDER = SortKey("started_at", "datetime")
MAX_DURATION = 86400
MAX_NOTE = 10000


@dataclass(frozen=True)
class TimeEntryFilter:
    issue_id: str | None = None
    project_id: str | None = None
    account_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    billable: bool | None = None


def global_id(entry: TimeEntry) -> str:
    return ids.encode_scoped(TYPE, bound_workspace_id(), entry.id)


async def get(global_id: str) -> TimeEntry:
    pk = ids.decode_scoped(global_id, TYPE, bound_workspace_id())
    entry = await TimeEntry.get_or_none(id=pk)
    if entry is None:
        raise NotFound("No TimeEntry with this id.")
    return entry


def filtered(entry_filter: TimeEntryFilter | None) -> QuerySet[TimeEntry]:
    queryset = TimeEntry.all()
    if entry_filter is None:
        return queryset
    f = entry_filter
    if f.issue_id is not None:
        queryset = queryset.filter(issue_id=issues.decode(f.issue_id, "filter.issueId"))
    if f.project_id is not None:
        queryset = queryset.filter(issue__project_id=projects.decode(f.project_id))
    if f.account_id is not None:
        queryset = queryset.filter(account_id=ids.decode_uuid(f.account_id, "Account"))
    if f.start is not None:
        queryset = queryset.filter(started_at__gte=validation.aware(f.start, "filter.from"))
    if f.end is not None:
        queryset = queryset.filter(started_at__lt=validation.aware(f.end, "filter.to"))
    if f.billable is not None:
        queryset = queryset.filter(billable=f.billable)
    return queryset


async def list_page(
    args: PageArgs, entry_filter: TimeEntryFilter | None
) -> tuple[Page[TimeEntry], QuerySet[TimeEntry]]:
    queryset = filtered(entry_filter)
    return await paginate(queryset, ORDER, args), queryset


async def total_seconds(queryset: QuerySet[TimeEntry]) -> int:
    # Summed over a subquery: with a join in the filter (projectId), Tortoise would group
    # the aggregate by every column and the first row would hold one entry's duration.
    matching = TimeEntry.filter(id__in=Subquery(queryset.values("id")))
    rows = await matching.annotate(total=Sum("duration_seconds")).values("total")
    return int(rows[0]["total"] or 0) if rows else 0


def _fields(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "started_at" in data:
        validation.required(data["started_at"], f"{prefix}.startedAt")
        clean["started_at"] = validation.aware(data["started_at"], f"{prefix}.startedAt")
    if "duration_seconds" in data:
        validation.required(data["duration_seconds"], f"{prefix}.durationSeconds")
        clean["duration_seconds"] = validation.integer(
            data["duration_seconds"], f"{prefix}.durationSeconds", minimum=1, maximum=MAX_DURATION
        )
    if "note" in data:
        clean["note"] = validation.optional_text(data["note"], f"{prefix}.note", maximum=MAX_NOTE)
    if "billable" in data:
        validation.required(data["billable"], f"{prefix}.billable")
        clean["billable"] = bool(data["billable"])
    return clean


async def create(membership: Membership, data: dict[str, Any]) -> TimeEntry:
    permissions.require_write(membership)
    clean = _fields(data, "input")
    issue = await issues.get(data["issue_id"], field="input.issueId")
    async with in_transaction(WORKSPACE):
        entry = await TimeEntry.create(issue=issue, account_id=membership.account_id, **clean)
        await events.emit(membership.workspace, "TIME_ENTRY_CREATED", entry)
    return entry


async def update(membership: Membership, global_id: str, data: dict[str, Any]) -> TimeEntry:
    entry = await get(global_id)
    permissions.require_author_or_admin(membership, entry.account_id)
    for name, value in _fields(data, "input").items():
        setattr(entry, name, value)
    async with in_transaction(WORKSPACE):
        await entry.save()
        await events.emit(membership.workspace, "TIME_ENTRY_UPDATED", entry)
    return entry


async def delete(membership: Membership, global_id: str) -> str:
    entry = await get(global_id)
    permissions.require_author_or_admin(membership, entry.account_id)
    await events.delete(membership.workspace, "TIME_ENTRY_DELETED", entry)
    return global_id
