"""Issues: filters, ordering, lookup by id or key, and changes with per-project numbers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from lightningtrack.errors import BadUserInput, NotFound
from lightningtrack.models import joins
from lightningtrack.models.landlord import Membership as MembershipModel
from lightningtrack.models.landlord import Role
from lightningtrack.models.workspace import (
    PRIORITY_RANK,
    Issue,
    IssuePriority,
    IssueStatus,
    Label,
    Project,
    TimeEntry,
)
from lightningtrack.resolvers import (
    events,
    ids,
    issue_facts,
    notifications,
    permissions,
    projects,
    validation,
)
from lightningtrack.resolvers.issue_facts import Fact, Facts
from lightningtrack.resolvers.pagination import Page, PageArgs, SortKey, paginate
from lightningtrack.tenancy.binding import bound_workspace_id
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

TYPE = "Issue"
ORDER_FIELDS: dict[str, SortKey] = {
    "CREATED_AT": SortKey("created_at", "datetime"),
    "UPDATED_AT": SortKey("updated_at", "datetime"),
    "PRIORITY": SortKey("priority_rank", "int16"),
    "NUMBER": SortKey("number", "int32"),
}


@dataclass(frozen=True)
class IssueFilter:
    """Hashable (tuples, not lists): batched loads group their keys by filter."""

    project_id: str | None = None
    status: tuple[IssueStatus, ...] | None = None
    priority: tuple[IssuePriority, ...] | None = None
    assignee_id: str | None = None
    label: str | None = None
    search: str | None = None
    created_after: datetime | None = None
    updated_after: datetime | None = None


def global_id(issue: Issue) -> str:
    return ids.encode_scoped(TYPE, bound_workspace_id(), issue.id)


def decode(global_id: str, field: str | None = None) -> int:
    try:
        return ids.decode_scoped(global_id, TYPE, bound_workspace_id())
    except NotFound as error:
        if field:
            error.extra["field"] = field
        raise


def issue_key(issue: Issue, project_key: str | None = None) -> str:
    """``WEB-42``: the project's key (read from the issue's project unless given) and the
    issue's number."""
    return f"{project_key or issue.project.key}-{issue.number}"


def sort_key(field: str | None, direction: str | None) -> SortKey:
    base = ORDER_FIELDS[field or "CREATED_AT"]
    return SortKey(base.field, base.kind, descending=(direction == "DESC"))


def filtered(issue_filter: IssueFilter | None) -> QuerySet[Issue]:
    queryset = Issue.all()
    if issue_filter is None:
        return queryset
    f = issue_filter
    if f.project_id is not None:
        queryset = queryset.filter(project_id=projects.decode(f.project_id))
    if f.status is not None:
        queryset = queryset.filter(status__in=[s.value for s in f.status])
    if f.priority is not None:
        queryset = queryset.filter(priority__in=[p.value for p in f.priority])
    if f.assignee_id is not None:
        queryset = queryset.filter(assignee_id=ids.decode_uuid(f.assignee_id, "Account"))
    if f.label is not None:
        label = validation.no_nul(f.label.strip(), "filter.label")
        if len(label) > validation.LABEL_MAX_LENGTH:  # matches nothing; the ORM would refuse it
            queryset = queryset.filter(id__in=[])
        else:
            queryset = queryset.filter(labels__name=label)
    if f.search:
        term = validation.no_nul(f.search.strip(), "filter.search")
        queryset = queryset.filter(Q(title__icontains=term) | Q(description__icontains=term))
    if f.created_after is not None:
        queryset = queryset.filter(
            created_at__gt=validation.aware(f.created_after, "filter.createdAfter")
        )
    if f.updated_after is not None:
        queryset = queryset.filter(
            updated_at__gt=validation.aware(f.updated_after, "filter.updatedAfter")
        )
    return queryset


async def list_page(
    args: PageArgs,
    issue_filter: IssueFilter | None,
    order: SortKey,
    wanted: frozenset[Fact] = frozenset(),
) -> tuple[Page[Issue], dict[int, Facts] | None]:
    """A page of issues, and with ``wanted`` facts (their projects, labels, time spent,
    comment counts: see issue_facts) the facts of its rows, read in the page's statement."""
    if not wanted:
        return await paginate(filtered(issue_filter), order, args), None
    found: dict[int, Facts] = {}

    async def with_facts(query: Callable[[], QuerySet[Issue]], order_by: str) -> list[Issue]:
        # The page's query is made of the list's arguments alone: the same in every
        # workspace, since a global id names its workspace (``filtered`` has decoded them
        # already, refusing another workspace's).
        made_of = (args, issue_filter, order)
        rows, facts = await issue_facts.page_with_facts(query, wanted, order_by, made_of)
        found.update(facts)
        return rows

    page = await paginate(filtered(issue_filter), order, args, with_facts)
    # Only the page's rows: the statement read one more, to know if there is a next page.
    return page, {row.id: found[row.id] for row in page.rows}


async def counts_by_project(
    issue_filter: IssueFilter | None, project_ids: list[int]
) -> dict[int, int]:
    rows = (
        await filtered(issue_filter)
        .filter(project_id__in=project_ids)
        .annotate(total=Count("id"))
        .group_by("project_id")
        .values("project_id", "total")
    )
    return {row["project_id"]: int(row["total"]) for row in rows}


@cache
def _with_project_sql() -> str:
    # An issue and its project in one statement; the ORM's select_related builds the
    # same join anew on every call. Only column names are interpolated.
    return (
        f"SELECT {joins.select_list(Issue, 'i')}, {joins.select_list(Project, 'p')}"  # noqa: S608
        " FROM issue i JOIN project p ON p.id = i.project_id WHERE "
    )


async def _one_with_project(where: str, values: list[Any]) -> Issue | None:
    rows = await joins.fetch(Issue, _with_project_sql() + where, values)
    if not rows:
        return None
    issue = joins.hydrate(Issue, rows[0], "i")
    issue.project = joins.hydrate(Project, rows[0], "p")
    return issue


async def _by_id(issue_id: int) -> Issue | None:
    return await _one_with_project(f"i.id = {joins.parameter(Issue, 1)}", [issue_id])


async def get(global_id: str, field: str | None = None) -> Issue:
    issue = await _by_id(decode(global_id, field))
    if issue is None:
        raise NotFound("No Issue with this id.", **({"field": field} if field else {}))
    return issue


async def find(issue_id: str | None, key: str | None) -> Issue | None:
    if (issue_id is None) == (key is None):
        raise BadUserInput("Give either id or key.", field="id")
    if issue_id is not None:
        return await _by_id(decode(issue_id))
    project_key, _, number = (key or "").rpartition("-")
    # Only the canonical spelling: "WEB-01" is not WEB-1's key.
    if not project_key or not number.isdigit() or len(number) > 9 or number.startswith("0"):
        return None
    if not projects.is_key(project_key):  # no such project (and the ORM refuses long values)
        return None
    return await _one_with_project(
        f"p.key = {joins.parameter(Issue, 1)} AND i.number = {joins.parameter(Issue, 2)}",
        [project_key, int(number)],
    )


async def by_ids(issue_ids: list[int]) -> dict[int, Issue]:
    rows = await Issue.filter(id__in=issue_ids).select_related("project")
    return {row.id: row for row in rows}


async def _member_account(field: str, global_account_id: str) -> uuid.UUID:
    """An account id that must belong to a member of the bound workspace."""
    try:
        account_id = ids.decode_uuid(global_account_id, "Account")
    except NotFound:
        raise NotFound("No member with this id.", field=field) from None
    if not await MembershipModel.exists(workspace_id=bound_workspace_id(), account_id=account_id):
        raise NotFound("No member with this id.", field=field)
    return account_id


async def set_labels(issue: Issue, names: list[str]) -> None:
    """Replace the issue's labels, creating labels the workspace has not seen yet."""
    existing = {label.name: label for label in await Label.filter(name__in=names)}
    for name in names:
        if name not in existing:
            existing[name] = (await Label.get_or_create(name=name))[0]
    await issue.labels.clear()
    if names:
        await issue.labels.add(*[existing[name] for name in names])


async def insert(project_pk: int, **values: Any) -> Issue:
    """A new issue numbered next in its project, inside the caller's transaction."""
    # The row lock taken by this UPDATE orders concurrent creations in one project:
    # each gets the next number, none is handed out twice.
    await Project.filter(id=project_pk).update(last_issue_number=F("last_issue_number") + 1)
    project = await Project.get_or_none(id=project_pk)
    if project is None:  # deleted since the caller looked
        raise NotFound("No Project with this id.", field="input.projectId")
    return await Issue.create(project=project, number=project.last_issue_number, **values)


async def create(membership: Membership, data: dict[str, Any]) -> Issue:
    permissions.require_write(membership)
    try:
        project_pk = projects.decode(data["project_id"])
    except NotFound:
        raise NotFound("No Project with this id.", field="input.projectId") from None
    title = validation.text(data["title"], "input.title", minimum=1, maximum=255)
    description = validation.optional_text(
        data.get("description"), "input.description", maximum=65536
    )
    status = data.get("status") or IssueStatus.BACKLOG
    priority = data.get("priority") or IssuePriority.NONE
    estimate = data.get("estimate_seconds")
    if estimate is not None:
        validation.integer(estimate, "input.estimateSeconds", minimum=0)
    labels = validation.labels(data.get("labels") or [], "input.labels")
    assignee = (
        await _member_account("input.assigneeId", data["assignee_id"])
        if data.get("assignee_id")
        else None
    )
    if not await Project.exists(id=project_pk):
        raise NotFound("No Project with this id.", field="input.projectId")
    async with in_transaction(WORKSPACE):
        issue = await insert(
            project_pk,
            title=title,
            description=description,
            status=status,
            priority=priority,
            priority_rank=PRIORITY_RANK[IssuePriority(priority)],
            assignee_id=assignee,
            creator_id=membership.account_id,
            estimate_seconds=estimate,
        )
        if labels:
            await set_labels(issue, labels)
        await events.emit(membership.workspace, "ISSUE_CREATED", issue)
        await notifications.owe_assignment(membership.workspace, issue, membership.account_id)
    return issue


async def update(membership: Membership, global_id: str, changes: dict[str, Any]) -> Issue:
    permissions.require_write(membership)
    issue = await get(global_id)
    if "title" in changes:
        validation.required(changes["title"], "input.title")
        issue.title = validation.text(changes["title"], "input.title", minimum=1, maximum=255)
    if "description" in changes:
        issue.description = validation.optional_text(  # type: ignore[assignment]
            changes["description"], "input.description", maximum=65536
        )
    if "status" in changes:
        validation.required(changes["status"], "input.status")
        issue.status = changes["status"]
    if "priority" in changes:
        validation.required(changes["priority"], "input.priority")
        issue.priority = changes["priority"]
        issue.priority_rank = PRIORITY_RANK[IssuePriority(changes["priority"])]
    if "estimate_seconds" in changes:
        estimate = changes["estimate_seconds"]
        if estimate is not None:
            validation.integer(estimate, "input.estimateSeconds", minimum=0)
        issue.estimate_seconds = estimate
    assigned_before = issue.assignee_id
    if "assignee_id" in changes:
        assignee = changes["assignee_id"]
        issue.assignee_id = (
            await _member_account("input.assigneeId", assignee) if assignee else None
        )
    new_labels = None
    if "labels" in changes:
        validation.required(changes["labels"], "input.labels")
        new_labels = validation.labels(changes["labels"], "input.labels")
    async with in_transaction(WORKSPACE):
        await issue.save()
        if new_labels is not None:
            await set_labels(issue, new_labels)
        await events.emit(membership.workspace, "ISSUE_UPDATED", issue)
        if issue.assignee_id != assigned_before:
            await notifications.owe_assignment(membership.workspace, issue, membership.account_id)
    return issue


async def delete(membership: Membership, global_id: str) -> str:
    permissions.require_write(membership, Role.ADMIN)
    issue = await get(global_id)
    await events.delete(membership.workspace, "ISSUE_DELETED", issue)
    return global_id


async def time_entry_counts(issue_ids: list[int]) -> dict[int, int]:
    rows = (
        await TimeEntry.filter(issue_id__in=issue_ids)
        .annotate(total=Count("id"))
        .group_by("issue_id")
        .values("issue_id", "total")
    )
    return {row["issue_id"]: int(row["total"]) for row in rows}
