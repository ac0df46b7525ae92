"""The root Query type."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from lightningtrack.errors import NotFound
from lightningtrack.resolvers import (
    comments,
    ids,
    issues,
    members,
    nodes,
    projects,
    time_entries,
    workspaces,
)
from lightningtrack.schema.billing import BillingQuery
from lightningtrack.schema.context import Info
from lightningtrack.schema.email_sources import EmailSourceQuery
from lightningtrack.schema.inputs import TimeEntryFilterInput
from lightningtrack.schema.privacy import PrivacyQuery
from lightningtrack.schema.settings import SettingsQuery
from lightningtrack.schema.team import TeamQuery
from lightningtrack.schema.tracking import (
    Comment,
    Issue,
    IssueConnection,
    IssueFilterInput,
    IssueOrder,
    Member,
    Project,
    ProjectConnection,
    TimeEntry,
    TimeEntryConnection,
    connection,
    issue_facts_wanted,
    issue_list,
    issue_order,
    node_fields,
    page_args,
    prefetch_people,
)
from lightningtrack.schema.types import Account, Node, Workspace
from lightningtrack.schema.webhooks import WebhookQuery, integration_node


def _uuid(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None


async def _scoped_node(info: Info, type_name: str, global_id: str) -> Node | None:
    """A workspace row by global id, only from the bound workspace's database."""
    info.context.require_membership()
    loaders = info.context.loaders
    lookups: dict[str, tuple[Callable[[str], Awaitable[Any]], Callable[[Any], Node]]] = {
        "Project": (projects.get, Project.from_model),
        "Issue": (issues.get, Issue.converter(loaders)),
        "Comment": (comments.get, Comment.converter(loaders)),
        "TimeEntry": (time_entries.get, TimeEntry.converter(loaders)),
    }
    if type_name not in lookups:
        return await integration_node(info, type_name, global_id)
    fetch, convert = lookups[type_name]
    try:
        return convert(await fetch(global_id))
    except NotFound:
        return None


@strawberry.type
class Query(PrivacyQuery, TeamQuery, BillingQuery, SettingsQuery, WebhookQuery, EmailSourceQuery):
    @strawberry.field(description="The signed-in account; null when not signed in.")
    def viewer(self, info: Info) -> Account | None:
        account = info.context.account
        return Account.from_model(account) if account else None

    @strawberry.field(description="The viewer's workspaces.")
    async def workspaces(self, info: Info) -> list[Workspace]:
        account = info.context.require_account()
        if info.context.api_key is not None:  # a key knows its own workspace only
            return [Workspace.from_membership(info.context.require_membership())]
        return [Workspace.from_membership(m) for m in await workspaces.memberships_of(account)]

    @strawberry.field(description="The bound workspace.")
    def workspace(self, info: Info) -> Workspace:
        return Workspace.from_membership(info.context.require_membership())

    @strawberry.field(description="Any object by its global ID, inside what the viewer may see.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        viewer = info.context.require_account()
        decoded = ids.decode(id)
        if decoded is None:
            return None
        type_name, key = decoded
        if type_name == "Account" and _uuid(key):
            bound = info.context.workspace
            account = await nodes.visible_account(viewer, bound.id if bound else None, key)
            return Account.from_model(account) if account else None
        if type_name == "Workspace" and _uuid(key):
            membership = await nodes.visible_membership(viewer, key)
            return Workspace.from_membership(membership) if membership else None
        return await _scoped_node(info, type_name, id)

    @strawberry.field(description="The bound workspace's members.")
    async def members(self, info: Info) -> list[Member]:
        info.context.require_membership()
        return [Member.from_model(m) for m in await members.list_members()]

    @strawberry.field
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_archived: bool | None = False,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectConnection:
        info.context.require_membership()
        page = await projects.list_page(
            page_args(first, after, last, before), bool(include_archived)
        )
        return connection(ProjectConnection, page, Project.from_model)

    @strawberry.field(description="A project by id or by key.")
    async def project(
        self, info: Info, id: strawberry.ID | None = None, key: str | None = None
    ) -> Project | None:
        info.context.require_membership()
        try:
            project = await projects.find(id, key)
        except NotFound:
            return None
        return Project.from_model(project) if project else None

    @strawberry.field
    async def issues(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: IssueFilterInput | None = None,
        order_by: IssueOrder | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> IssueConnection:
        info.context.require_membership()
        selected = node_fields(info)
        page, read = await issues.list_page(
            page_args(first, after, last, before),
            filter.to_args() if filter else None,
            issue_order(order_by),
            issue_facts_wanted(selected),
        )
        return await issue_list(info, page, read=read, selected=selected)

    @strawberry.field(description='An issue by id or by key, e.g. "WEB-42".')
    async def issue(
        self, info: Info, id: strawberry.ID | None = None, key: str | None = None
    ) -> Issue | None:
        info.context.require_membership()
        try:
            issue = await issues.find(id, key)
        except NotFound:
            return None
        return Issue.from_model(issue, info.context.loaders) if issue else None

    @strawberry.field
    async def time_entries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TimeEntryFilterInput | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TimeEntryConnection:
        info.context.require_membership()
        page, queryset = await time_entries.list_page(
            page_args(first, after, last, before), filter.to_args() if filter else None
        )

        async def total() -> int:
            return await time_entries.total_seconds(queryset)

        rows = TimeEntry.converter(info.context.loaders)
        found = connection(TimeEntryConnection, page, rows, total=total)
        await prefetch_people(info, found.nodes, {"account": "account_id"})
        return found
