"""Per-request dataloaders: each batches every key asked for in one tick into one query."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.queryset import QuerySet

from lightningtrack.models.landlord import Account
from lightningtrack.models.workspace import Comment, Issue, TimeEntry
from lightningtrack.resolvers import issue_facts, issues, members, projects
from lightningtrack.resolvers.issue_facts import Fact, Facts
from lightningtrack.resolvers.nested import pages_by_parent
from lightningtrack.resolvers.pagination import ID_ORDER, Page, PageArgs, SortKey

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")
# A page of one parent's children: (parent id, page arguments, what else shapes the page).
PageKey = tuple[int, PageArgs, Hashable]
Counter = Callable[[int], Awaitable[int]]


def _mapped(
    fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]], default: D
) -> DataLoader[K, V | D]:
    async def load(keys: list[K]) -> list[V | D]:
        found = await fetch(list(dict.fromkeys(keys)))
        return [found.get(key, default) for key in keys]

    return DataLoader(load_fn=load)


def _pages(
    source: Callable[[Any], tuple[QuerySet[Any], SortKey, str, Counter]],
) -> DataLoader[PageKey, Page[Any]]:
    """Pages for many parents; keys asking for the same kind of page share a statement."""

    async def load(keys: list[PageKey]) -> list[Page[Any]]:
        groups: dict[tuple[PageArgs, Hashable], list[int]] = {}
        for parent, args, shape in keys:
            groups.setdefault((args, shape), []).append(parent)
        results: dict[PageKey, Page[Any]] = {}
        for (args, shape), parents in groups.items():
            queryset, order, column, counter = source(shape)
            pages = await pages_by_parent(queryset, order, column, parents, args, counter)
            for parent, page in pages.items():
                results[(parent, args, shape)] = page
        return [results[key] for key in keys]

    return DataLoader(load_fn=load)


def _facts() -> DataLoader[tuple[int, frozenset[Fact]], Facts]:
    """Facts of many issues; keys asking for the same facts share a statement."""

    async def load(keys: list[tuple[int, frozenset[Fact]]]) -> list[Facts]:
        groups: dict[frozenset[Fact], list[int]] = {}
        for issue_id, wanted in keys:
            groups.setdefault(wanted, []).append(issue_id)
        found: dict[tuple[int, frozenset[Fact]], Facts] = {}
        for wanted, issue_ids in groups.items():
            for issue_id, facts in (await issue_facts.of_issues(issue_ids, wanted)).items():
                found[(issue_id, wanted)] = facts
        return [found.get(key) or Facts() for key in keys]

    return DataLoader(load_fn=load)


def _grouped_counts(
    fetch: Callable[[Any, list[int]], Awaitable[dict[int, int]]],
) -> DataLoader[tuple[int, Hashable], int]:
    async def load(keys: list[tuple[int, Hashable]]) -> list[int]:
        groups: dict[Hashable, list[int]] = {}
        for parent, shape in keys:
            groups.setdefault(shape, []).append(parent)
        found: dict[tuple[int, Hashable], int] = {}
        for shape, parents in groups.items():
            for parent, total in (await fetch(shape, list(dict.fromkeys(parents)))).items():
                found[(parent, shape)] = total
        return [found.get(key, 0) for key in keys]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """AccountByIdLoader, LabelsByIssueLoader and the rest: one set per request."""

    account_by_id: DataLoader[uuid.UUID, Account | None] = field(
        default_factory=lambda: _mapped(members.accounts_by_id, None)
    )
    issue_by_id: DataLoader[int, Issue | None] = field(
        default_factory=lambda: _mapped(issues.by_ids, None)
    )
    labels_by_issue: DataLoader[int, list[str]] = field(
        default_factory=lambda: _mapped(issue_facts.labels_of, list[str]())
    )
    time_spent_by_issue: DataLoader[int, int] = field(
        default_factory=lambda: _mapped(issue_facts.time_spent, 0)
    )
    time_spent_by_project: DataLoader[int, int] = field(
        default_factory=lambda: _mapped(projects.time_spent, 0)
    )
    facts_by_issue: DataLoader[tuple[int, frozenset[Fact]], Facts] = field(default_factory=_facts)
    comment_count_by_issue: DataLoader[int, int] = field(
        default_factory=lambda: _mapped(issue_facts.comment_counts, 0)
    )
    time_entry_count_by_issue: DataLoader[int, int] = field(
        default_factory=lambda: _mapped(issues.time_entry_counts, 0)
    )
    issue_count_by_project: DataLoader[tuple[int, Hashable], int] = field(
        default_factory=lambda: _grouped_counts(issues.counts_by_project)
    )
    comment_page_by_issue: DataLoader[PageKey, Page[Comment]] = field(init=False)
    time_entry_page_by_issue: DataLoader[PageKey, Page[TimeEntry]] = field(init=False)
    issue_page_by_project: DataLoader[PageKey, Page[Issue]] = field(init=False)

    def __post_init__(self) -> None:
        comment_counts = self.comment_count_by_issue.load
        entry_counts = self.time_entry_count_by_issue.load
        issue_counts = self.issue_count_by_project.load

        def comments_of(_: Any) -> tuple[QuerySet[Any], SortKey, str, Counter]:
            return Comment.all(), ID_ORDER, "issue_id", comment_counts

        def time_entries_of(_: Any) -> tuple[QuerySet[Any], SortKey, str, Counter]:
            return TimeEntry.all(), ID_ORDER, "issue_id", entry_counts

        def issues_of(shape: Any) -> tuple[QuerySet[Any], SortKey, str, Counter]:
            issue_filter, order = shape

            def counter(project_id: int) -> Awaitable[int]:
                return issue_counts((project_id, issue_filter))

            queryset = issues.filtered(issue_filter).select_related("project")
            return queryset, order, "project_id", counter

        self.comment_page_by_issue = _pages(comments_of)
        self.time_entry_page_by_issue = _pages(time_entries_of)
        self.issue_page_by_project = _pages(issues_of)
