"""The tracker's types: projects, issues, comments, time entries, members, connections."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Generic, Self, TypeVar, cast, overload

import strawberry
from strawberry import Private
from strawberry.types.nodes import SelectedField

from lightningtrack.models import landlord
from lightningtrack.models import workspace as models
from lightningtrack.resolvers import comments, issues, projects, time_entries
from lightningtrack.resolvers.issue_facts import Fact, Facts
from lightningtrack.resolvers.issues import IssueFilter as IssueFilterArgs
from lightningtrack.resolvers.pagination import NO_CURSORS, Page, PageArgs
from lightningtrack.schema.compiled import prefetched_field
from lightningtrack.schema.context import Info
from lightningtrack.schema.loaders import Loaders
from lightningtrack.schema.types import Account, IssuePriority, IssueStatus, Node


@strawberry.enum
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class IssueOrderField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    PRIORITY = "PRIORITY"
    NUMBER = "NUMBER"


@strawberry.input(name="IssueFilter")
class IssueFilterInput:
    project_id: strawberry.ID | None = None
    status: list[IssueStatus] | None = None
    priority: list[IssuePriority] | None = None
    assignee_id: strawberry.ID | None = None
    label: str | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive, in title and description."
    )
    created_after: datetime | None = None
    updated_after: datetime | None = None

    def to_args(self) -> IssueFilterArgs:
        return IssueFilterArgs(
            project_id=self.project_id,
            status=tuple(self.status) if self.status is not None else None,
            priority=tuple(self.priority) if self.priority is not None else None,
            assignee_id=self.assignee_id,
            label=self.label,
            search=self.search,
            created_after=self.created_after,
            updated_after=self.updated_after,
        )


@strawberry.input
class IssueOrder:
    field: IssueOrderField
    direction: OrderDirection


class Later:
    """A field's value to be looked up only if the query reads it: ``load(key)``, then
    ``convert`` if given. graphql-core awaits a field value that is awaitable, so a plain
    field (no resolver to run per row) can hold one of these where its value is not known
    yet; one nobody reads costs nothing. Slots and no closure: one is made per row."""

    __slots__ = ("_convert", "_key", "_load")

    def __init__(
        self,
        load: Callable[[Any], Awaitable[Any]],
        key: Any = None,
        convert: Callable[[Any], Any] | None = None,
    ) -> None:
        self._load = load
        self._key = key
        self._convert = convert

    def __await__(self) -> Generator[Any, None, Any]:
        found = yield from self._load(self._key).__await__()
        return self._convert(found) if self._convert is not None else found


def _call(function: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
    return function()


def _value_or_later(value: Any) -> Any:
    """A known value as is; a deferred one (a coroutine function) as a Later."""
    return Later(_call, value) if callable(value) else value


@strawberry.type
class PageInfo:
    start_cursor: str | None
    end_cursor: str | None
    # A value, or a Later when the far side must be looked up.
    has_next_page: Any = strawberry.field(graphql_type=bool)
    has_previous_page: Any = strawberry.field(graphql_type=bool)

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        cursors = page.cursors
        return cls(
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
            has_next_page=_value_or_later(page.has_next),
            has_previous_page=_value_or_later(page.has_previous),
        )


# Fields that every row of a list may carry (an issue's comments, a project's issues)
# default their arguments to UNSET rather than null: graphql-core then passes only the
# arguments a client sent, and Strawberry converts nothing for the others, once per row.
OMITTED: Any = strawberry.UNSET


def _given(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


def page_args(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageArgs:
    return PageArgs(
        first=_given(first), after=_given(after), last=_given(last), before=_given(before)
    )


_ROW_FIELDS = frozenset({"nodes", "edges", "pageInfo"})


def _field_names(selections: list[Any]) -> set[str]:
    names: set[str] = set()
    for selection in selections:
        if isinstance(selection, SelectedField):
            names.add(selection.name)
        else:  # fragments: look inside them
            names |= _field_names(selection.selections)
    return names


def wants_rows(info: Info) -> bool:
    """Whether a connection field's selection needs its rows, not just its totals."""
    return any(_field_names(field.selections) & _ROW_FIELDS for field in info.selected_fields)


def counts_only(count: int | Callable[[], Awaitable[int]]) -> Page[Any]:
    """A page with no rows for a selection that asks only for totals."""
    return Page(rows=[], cursors=NO_CURSORS, has_next=False, has_previous=False, count=count)


def _account_of(account: landlord.Account | None) -> Account | None:
    return Account.from_model(account) if account is not None else None


def _person(loaders: Loaders, account_id: Any) -> Any:
    """The value of a row's account field until its list prefetches it: none, or the
    account looked up if the query reads it."""
    if account_id is None:
        return None
    return Later(loaders.account_by_id.load, account_id, _account_of)


async def prefetch_people(
    info: Info,
    nodes: list[Any],
    columns: dict[str, str],
    selected: dict[str, list[SelectedField]] | None = None,
) -> None:
    """For a page of rows, the accounts its selection asks for (``columns`` maps a field,
    like ``author``, to the row's column and attribute), in one batch, set as plain
    values."""
    fields = node_fields(info) if selected is None else selected
    wanted = [field for field in columns if field in fields]
    if not nodes or not wanted:
        return
    ids = {getattr(n.model, columns[f]) for n in nodes for f in wanted} - {None}
    found = await info.context.loaders.account_by_id.load_many(list(ids)) if ids else []
    accounts = {a.id: Account.from_model(a) for a in found if a is not None}
    for node in nodes:
        for name in wanted:
            account_id = getattr(node.model, columns[name])
            setattr(node, name, accounts.get(account_id) if account_id is not None else None)


@strawberry.type(name="Project")
class Project(Node):
    key: str = strawberry.field(description='E.g. "WEB": upper-case letters and digits.')
    name: str
    description: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime
    model: Private[models.Project]

    @classmethod
    def from_model(cls, project: models.Project) -> Self:
        return cls(
            id=strawberry.ID(projects.global_id(project)),
            key=project.key,
            name=project.name,
            description=project.description,
            archived=project.archived,
            created_at=project.created_at,
            updated_at=project.updated_at,
            model=project,
        )

    @strawberry.field
    async def issues(
        self,
        info: Info,
        first: int | None = OMITTED,
        after: str | None = OMITTED,
        filter: IssueFilterInput | None = OMITTED,
        order_by: IssueOrder | None = OMITTED,
        last: int | None = OMITTED,
        before: str | None = OMITTED,
    ) -> IssueConnection:
        args = page_args(first, after, last, before).validated()
        issue_filter = filter.to_args() if filter else None
        order_by = _given(order_by)
        loaders = info.context.loaders
        if not wants_rows(info):
            project_id = self.model.id

            async def count() -> int:
                return await loaders.issue_count_by_project.load((project_id, issue_filter))

            return connection(IssueConnection, counts_only(count), Issue.converter(loaders))
        key = (self.model.id, args, (issue_filter, issue_order(order_by)))
        page = await loaders.issue_page_by_project.load(key)
        return await issue_list(info, page, parent=self)

    @strawberry.field
    async def time_spent_seconds(self, info: Info) -> int:
        return await info.context.loaders.time_spent_by_project.load(self.model.id)


def issue_order(order_by: IssueOrder | None) -> Any:
    if order_by is None:
        return issues.sort_key(None, None)
    return issues.sort_key(order_by.field.value, order_by.direction.value)


@strawberry.type(name="Issue")
class Issue(Node):
    key: str = strawberry.field(description='Project key and number, e.g. "WEB-42".')
    number: int
    title: str
    description: str | None
    status: IssueStatus
    priority: IssuePriority
    estimate_seconds: int | None
    created_at: datetime
    updated_at: datetime
    # Plain values, so that no resolver runs per row: the project comes with the issue
    # (its key is part of the issue's); the others are what a list prefetches for all
    # its rows at once (see issue_list), else a Later.
    project: Project
    assignee: Any = strawberry.field(graphql_type=Account | None)
    creator: Any = strawberry.field(
        graphql_type=Account | None, description="Null once the creator's account is erased."
    )
    labels: Any = strawberry.field(graphql_type=list[str])
    time_spent_seconds: Any = strawberry.field(graphql_type=int)
    model: Private[models.Issue]
    # Known comment counts, for the comments field (it takes arguments, so it resolves).
    pre: Private[dict[str, Any]]

    @classmethod
    def from_model(
        cls, issue: models.Issue, loaders: Loaders, project: Project | None = None
    ) -> Self:
        """The issue, with its project's object when the caller has it (lists read
        projects once, not per row), else from the project loaded with the row."""
        project = project or Project.from_model(issue.project)
        return cls(
            id=strawberry.ID(issues.global_id(issue)),
            key=issues.issue_key(issue, project.key),
            number=issue.number,
            title=issue.title,
            description=issue.description,
            status=issue.status,
            priority=issue.priority,
            estimate_seconds=issue.estimate_seconds,
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            project=project,
            assignee=_person(loaders, issue.assignee_id),
            creator=_person(loaders, issue.creator_id),
            labels=Later(loaders.labels_by_issue.load, issue.id),
            time_spent_seconds=Later(loaders.time_spent_by_issue.load, issue.id),
            model=issue,
            pre={},
        )

    @classmethod
    def converter(cls, loaders: Loaders) -> Callable[[models.Issue], Issue]:
        return lambda issue: cls.from_model(issue, loaders)

    @strawberry.field(metadata=prefetched_field("comments"))
    def comments(
        self,
        info: Info,
        first: int | None = OMITTED,
        after: str | None = OMITTED,
        last: int | None = OMITTED,
        before: str | None = OMITTED,
    ) -> CommentConnection:
        args = page_args(first, after, last, before).validated()
        known = self.pre.get("commentCount")
        if known is not None:
            # A list prefetches counts only when no selection of comments asks for rows:
            # the answer is at hand, so this resolver is sync (no awaiting per issue).
            rows = Comment.converter(info.context.loaders)
            return connection(CommentConnection, counts_only(known), rows)
        # graphql-core awaits what a sync resolver returns when it is awaitable.
        return cast("CommentConnection", self._comments(info, args))

    async def _comments(self, info: Info, args: PageArgs) -> CommentConnection:
        loaders = info.context.loaders
        issue_id = self.model.id
        if not wants_rows(info):

            async def count() -> int:
                return await loaders.comment_count_by_issue.load(issue_id)

            return connection(CommentConnection, counts_only(count), Comment.converter(loaders))
        page = await loaders.comment_page_by_issue.load((issue_id, args, None))
        found = connection(CommentConnection, page, Comment.converter(loaders))
        await prefetch_people(info, found.nodes, {"author": "author_id"})
        return found

    @strawberry.field
    async def time_entries(
        self,
        info: Info,
        first: int | None = OMITTED,
        after: str | None = OMITTED,
        last: int | None = OMITTED,
        before: str | None = OMITTED,
    ) -> TimeEntryConnection:
        args = page_args(first, after, last, before).validated()
        loaders = info.context.loaders
        issue_id = self.model.id

        async def total() -> int:
            return await loaders.time_spent_by_issue.load(issue_id)

        if not wants_rows(info):

            async def count() -> int:
                return await loaders.time_entry_count_by_issue.load(issue_id)

            page = counts_only(count)
        else:
            page = await loaders.time_entry_page_by_issue.load((issue_id, args, None))
        found = connection(TimeEntryConnection, page, TimeEntry.converter(loaders), total=total)
        await prefetch_people(info, found.nodes, {"account": "account_id"})
        return found


def _selected(selections: list[Any], name: str) -> list[SelectedField]:
    """The fields called ``name`` among ``selections``, looking inside fragments."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == name:
                found.append(selection)
        else:
            found += _selected(selection.selections, name)
    return found


def node_fields(info: Info) -> dict[str, list[SelectedField]]:
    """What a connection's selection asks of each node, by field name."""
    fields: dict[str, list[SelectedField]] = {}
    for connection_field in info.selected_fields:
        holders = _selected(connection_field.selections, "nodes")
        for edges in _selected(connection_field.selections, "edges"):
            holders += _selected(edges.selections, "node")
        for holder in holders:
            for name in _field_names(holder.selections):
                fields.setdefault(name, []).extend(_selected(holder.selections, name))
    return fields


# Fields of an issue that a list fetches for all its rows at once, and the fact each reads.
_FACT_FIELDS = {"labels": Fact.LABELS, "timeSpentSeconds": Fact.TIME_SPENT}
_PEOPLE_FIELDS = {"assignee": "assignee_id", "creator": "creator_id"}


def issue_facts_wanted(
    selected: dict[str, list[SelectedField]], parent: Project | None = None
) -> frozenset[Fact]:
    """What a selection (``node_fields``) asks of a page's rows beyond their columns:
    their projects (unless ``parent`` is theirs), labels, time spent, comment counts."""
    facts = {fact for name, fact in _FACT_FIELDS.items() if name in selected}
    comments = selected.get("comments", [])
    if comments and not any(_field_names(c.selections) & _ROW_FIELDS for c in comments):
        facts.add(Fact.COMMENT_COUNT)
    if parent is None:
        facts.add(Fact.PROJECT)
    return frozenset(facts)


async def issue_list(
    info: Info,
    page: Page[models.Issue],
    parent: Project | None = None,
    read: dict[int, Facts] | None = None,
    selected: dict[str, list[SelectedField]] | None = None,
) -> IssueConnection:
    """A page of issues (read without their projects) as a connection. What the selection
    (``selected``, if the caller has it) asks of its rows is fetched for all of them at
    once, their projects (unless ``parent`` is theirs), labels, time spent and comment
    counts in one statement (or with the page: ``read``, see ``issue_facts_wanted``) and
    the people in another sent with it, and set as plain values: no lookup per row and
    field. A row whose project went in the meantime (and it with it) is left out."""
    loaders = info.context.loaders
    rows = page.rows
    wanted = (node_fields(info) if selected is None else selected) if rows else {}
    shape = issue_facts_wanted(wanted, parent) if rows else frozenset()
    people = [name for name in _PEOPLE_FIELDS if name in wanted]
    account_ids = {getattr(r, _PEOPLE_FIELDS[n]) for r in rows for n in people} - {None}

    async def no_rows() -> list[Any]:
        return []

    load_people = loaders.account_by_id.load_many(list(account_ids)) if account_ids else no_rows()
    if read is not None:
        found_facts: list[Facts] = [read.get(r.id) or Facts() for r in rows]
        found_people = await load_people
    else:
        found_facts, found_people = await asyncio.gather(
            loaders.facts_of_page.load((tuple(r.id for r in rows), shape)) if shape else no_rows(),
            load_people,
        )
    shared: dict[int, Project] = {}
    if parent is not None:
        shared[parent.model.id] = parent
    else:
        for known in found_facts:
            if known.project is not None and known.project.id not in shared:
                shared[known.project.id] = Project.from_model(known.project)
    kept: Sequence[int] = range(len(rows))
    if any(row.project_id not in shared for row in rows):
        kept = [i for i, row in enumerate(rows) if row.project_id in shared]
        kept_rows = [rows[i] for i in kept]
        page = replace(page, rows=kept_rows, cursors=page.cursors.of(kept_rows))
    accounts = {a.id: Account.from_model(a) for a in found_people if a is not None}
    # Issues with as many comments share one (read-only) connection of counts.
    comment_counts: dict[int, CommentConnection] = {}
    comment_rows = Comment.converter(loaders)
    found = connection(
        IssueConnection,
        page,
        lambda row: Issue.from_model(row, loaders, shared[row.project_id]),
    )
    for issue, index in zip(found.nodes, kept, strict=True):
        model = issue.model
        for name in people:
            account_id = getattr(model, _PEOPLE_FIELDS[name])
            setattr(issue, name, accounts.get(account_id) if account_id is not None else None)
        if not shape:
            continue
        known = found_facts[index]
        if Fact.LABELS in shape:
            issue.labels = known.labels
        if Fact.TIME_SPENT in shape:
            issue.time_spent_seconds = known.time_spent
        if Fact.COMMENT_COUNT in shape:
            count = known.comment_count
            issue.pre["commentCount"] = count
            # What the comments field answers without arguments: read, not resolved.
            counted = comment_counts.get(count)
            if counted is None:
                counted = comment_counts[count] = connection(
                    CommentConnection, counts_only(count), comment_rows
                )
            issue.pre["comments"] = counted
    return found


async def _issue(info: Info, issue_id: int) -> Issue:
    """The issue a comment or time entry belongs to (they go when it goes)."""
    issue = await info.context.loaders.issue_by_id.load(issue_id)
    assert issue is not None
    return Issue.from_model(issue, info.context.loaders)


@strawberry.type(name="Comment")
class Comment(Node):
    body: str
    created_at: datetime
    updated_at: datetime
    # Prefetched by lists (prefetch_people), else a Later.
    author: Any = strawberry.field(
        graphql_type=Account | None, description="Null once the author's account is erased."
    )
    model: Private[models.Comment]

    @classmethod
    def from_model(cls, comment: models.Comment, loaders: Loaders) -> Self:
        return cls(
            id=strawberry.ID(comments.global_id(comment)),
            body=comment.body,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            author=_person(loaders, comment.author_id),
            model=comment,
        )

    @classmethod
    def converter(cls, loaders: Loaders) -> Callable[[models.Comment], Comment]:
        return lambda comment: cls.from_model(comment, loaders)

    @strawberry.field
    async def issue(self, info: Info) -> Issue:
        return await _issue(info, self.model.issue_id)


@strawberry.type(name="TimeEntry")
class TimeEntry(Node):
    started_at: datetime
    duration_seconds: int
    note: str | None
    billable: bool
    created_at: datetime
    # Prefetched by lists (prefetch_people), else a Later.
    account: Any = strawberry.field(
        graphql_type=Account | None,
        description="Who did the work; null once that account is erased.",
    )
    model: Private[models.TimeEntry]

    @classmethod
    def from_model(cls, entry: models.TimeEntry, loaders: Loaders) -> Self:
        return cls(
            id=strawberry.ID(time_entries.global_id(entry)),
            started_at=entry.started_at,
            duration_seconds=entry.duration_seconds,
            note=entry.note,
            billable=entry.billable,
            created_at=entry.created_at,
            account=_person(loaders, entry.account_id),
            model=entry,
        )

    @classmethod
    def converter(cls, loaders: Loaders) -> Callable[[models.TimeEntry], TimeEntry]:
        return lambda entry: cls.from_model(entry, loaders)

    @strawberry.field
    async def issue(self, info: Info) -> Issue:
        return await _issue(info, self.model.issue_id)


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID


@strawberry.type
class Member:
    account: Account
    role: landlord.Role
    joined_at: datetime

    @classmethod
    def from_model(cls, membership: landlord.Membership) -> Self:
        return cls(
            account=Account.from_model(membership.account),
            role=membership.role,
            joined_at=membership.joined_at,
        )


# Connections. Strawberry names Connection[Issue] "IssueConnection" and Edge[Issue]
# "IssueEdge". Each holds its page; counts and far-side checks run only when selected.

NodeT = TypeVar("NodeT")


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


class Edges(Sequence[Any]):
    """A page's edges, each made when read: a selection of nodes alone makes none."""

    __slots__ = ("_cursors", "_nodes")

    def __init__(self, cursors: Sequence[str], nodes: Sequence[Any]) -> None:
        if len(cursors) != len(nodes):
            raise ValueError("one cursor per node")
        self._cursors = cursors
        self._nodes = nodes

    def __len__(self) -> int:
        return len(self._nodes)

    @overload
    def __getitem__(self, index: int) -> Edge[Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[Edge[Any]]: ...

    def __getitem__(self, index: int | slice) -> Edge[Any] | list[Edge[Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Edge(cursor=self._cursors[index], node=self._nodes[index])


@strawberry.type
class Connection(Generic[NodeT]):
    edges: Sequence[Edge[NodeT]]
    nodes: list[NodeT]
    page_info: PageInfo
    # A value, or a Later: counted only if asked for.
    total_count: Any = strawberry.field(graphql_type=int)
    page: Private[Page[Any]]


@strawberry.type
class TimeEntryConnection(Connection[TimeEntry]):
    total: Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The sum of durationSeconds over every entry, all pages.")
    async def total_seconds(self) -> int:
        return await self.total()


ProjectConnection = Connection[Project]
IssueConnection = Connection[Issue]
CommentConnection = Connection[Comment]

C = TypeVar("C", bound=Connection[Any])


def connection(cls: type[C], page: Page[Any], convert: Callable[[Any], Any], **extra: Any) -> C:
    nodes = [convert(row) for row in page.rows]
    return cls(
        edges=Edges(page.cursors, nodes),
        nodes=nodes,
        page_info=PageInfo.of(page),
        total_count=_value_or_later(page.count),
        page=page,
        **extra,
    )
