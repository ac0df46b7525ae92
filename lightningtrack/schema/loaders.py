"""Per-request dataloaders: each batches every key asked for in one tick into one query."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping
from functools import cached_property
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


# The issues of one page and the facts it asks of them.
FactsKey = tuple[tuple[int, ...], frozenset[Fact]]


def _facts() -> DataLoader[FactsKey, list[Facts]]:
    """Facts of whole pages of issues (one future per page, not per issue); pages asking
    for the same facts in one tick share a statement."""

    async def load(keys: list[FactsKey]) -> list[list[Facts]]:
        groups: dict[frozenset[Fact], set[int]] = {}
        for issue_ids, wanted in keys:
            groups.setdefault(wanted, set()).update(issue_ids)
        found = {
            wanted: await issue_facts.of_issues(sorted(issue_ids), wanted)
            for wanted, issue_ids in groups.items()
        }
        return [[found[wanted].get(i) or Facts() for i in issue_ids] for issue_ids, wanted in keys]

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


class Loaders:
    """AccountByIdLoader, LabelsByIssueLoader and the rest: one set per request, each
    made when first used (most requests use one or two of them)."""

    @cached_property
    def account_by_id(self) -> DataLoader[uuid.UUID, Account | None]:
        return _mapped(members.accounts_by_id, None)

    @cached_property
    def issue_by_id(self) -> DataLoader[int, Issue | None]:
        return _mapped(issues.by_ids, None)

    @cached_property
    def labels_by_issue(self) -> DataLoader[int, list[str]]:
        return _mapped(issue_facts.labels_of, list[str]())

    @cached_property
    def time_spent_by_issue(self) -> DataLoader[int, int]:
        return _mapped(issue_facts.time_spent, 0)

    @cached_property
    def time_spent_by_project(self) -> DataLoader[int, int]:
        return _mapped(projects.time_spent, 0)

    @cached_property
    def facts_of_page(self) -> DataLoader[FactsKey, list[Facts]]:
        return _facts()

    @cached_property
    def comment_count_by_issue(self) -> DataLoader[int, int]:
        return _mapped(issue_facts.comment_counts, 0)

    @cached_property
    def time_entry_count_by_issue(self) -> DataLoader[int, int]:
        return _mapped(issues.time_entry_counts, 0)

    @cached_property
    def issue_count_by_project(self) -> DataLoader[tuple[int, Hashable], int]:
        return _grouped_counts(issues.counts_by_project)

    @cached_property
    def comment_page_by_issue(self) -> DataLoader[PageKey, Page[Comment]]:
        counts = self.comment_count_by_issue.load

        def comments_of(_: Any) -> tuple[QuerySet[Any], SortKey, str, Counter]:
            return Comment.all(), ID_ORDER, "issue_id", counts

        return _pages(comments_of)

    @cached_property
    def time_entry_page_by_issue(self) -> DataLoader[PageKey, Page[TimeEntry]]:
        counts = self.time_entry_count_by_issue.load

        def time_entries_of(_: Any) -> tuple[QuerySet[Any], SortKey, str, Counter]:
            return TimeEntry.all(), ID_ORDER, "issue_id", counts

        return _pages(time_entries_of)

    @cached_property
    def issue_page_by_project(self) -> DataLoader[PageKey, Page[Issue]]:
        def issues_of(shape: Any) -> tuple[QuerySet[Any], SortKey, str, Counter]:
            issue_filter, order = shape

            def counter(project_id: int) -> Awaitable[int]:
                return self.issue_count_by_project.load((project_id, issue_filter))

            # Each page belongs to its parent project, which the caller has at hand.
            return issues.filtered(issue_filter), order, "project_id", counter

        return _pages(issues_of)
