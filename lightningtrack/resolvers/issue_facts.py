"""What lists show of every issue (its project, labels, time spent and comment count), for
many issues in one statement: the project joined, one correlated subquery per other fact
asked for, so a page costs one round trip however many of them it shows and however many
issues it holds."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from tortoise.queryset import QuerySet

from lightningtrack.models import joins
from lightningtrack.models.workspace import Issue, Project


class Fact(StrEnum):
    PROJECT = "project"
    LABELS = "labels"
    TIME_SPENT = "time_spent"
    COMMENT_COUNT = "comment_count"


@dataclass
class Facts:
    project: Project | None = None
    labels: list[str] = field(default_factory=list)
    time_spent: int = 0
    comment_count: int = 0


def _subquery(fact: Fact, dialect: str) -> str:
    if fact is Fact.LABELS:
        aggregate = "json_agg" if dialect == "postgres" else "json_group_array"
        return (
            f"(SELECT {aggregate}(l.name) FROM issue_label il"  # noqa: S608
            " JOIN label l ON l.id = il.label_id WHERE il.issue_id = i.id)"
        )
    if fact is Fact.TIME_SPENT:
        return (
            "(SELECT COALESCE(SUM(t.duration_seconds), 0) FROM time_entry t"
            " WHERE t.issue_id = i.id)"
        )
    return "(SELECT COUNT(*) FROM comment c WHERE c.issue_id = i.id)"


async def of_issues(issue_ids: list[int], wanted: Collection[Fact]) -> dict[int, Facts]:
    """The ``wanted`` facts of each issue that exists among ``issue_ids``; the others
    keep their defaults."""
    if not issue_ids or not wanted:
        return {}
    columns, joined = _columns(wanted, "JOIN")
    condition, values = joins.among(Issue, "i.id", issue_ids)
    # Only fixed SQL fragments are interpolated; the ids are parameters.
    sql = f"SELECT i.id AS id{columns} FROM issue i{joined} WHERE {condition}"  # noqa: S608
    rows = await joins.fetch(Issue, sql, values)
    projects: dict[int, Project] = {}  # issues of one project share its model
    return {int(row["id"]): _read(row, wanted, projects) for row in rows}


# Statements of pages with their facts, by what made them: the same list asked for again
# (a dashboard's refresh, another member's same view) sends the same statement, without the
# ORM composing it anew. Least recently used first out; keys hold the request's values.
_STATEMENTS: OrderedDict[Hashable, tuple[str, tuple[Any, ...]]] = OrderedDict()
MAX_STATEMENTS = 512


async def page_with_facts(
    page: Callable[[], QuerySet[Issue]],
    wanted: Collection[Fact],
    order: str,
    made_of: Hashable | None = None,
) -> tuple[list[Issue], dict[int, Facts]]:
    """The rows of ``page()`` (a filtered, ordered, limited query of issues) and their
    ``wanted`` facts in one statement: the page's own SQL as a derived table, the facts
    around it, in the same ``order`` (an ORDER BY list on the alias ``i``). A row whose
    project is gone is kept, without a project (as the page alone would have it).

    ``made_of``: all that ``page()`` depends on (the list's arguments), if hashable: the
    statement is then kept for the next page made of the same."""
    sql, values = _statement(page, wanted, order, made_of)
    rows = await joins.fetch(Issue, sql, list(values))
    count = len(Issue._meta.db_fields)
    projects: dict[int, Project] = {}
    issues, facts = [], {}
    for row in rows:
        issue = Issue._from_row(row, count)
        issues.append(issue)
        facts[issue.id] = _read(row, wanted, projects)
    return issues, facts


def _statement(
    page: Callable[[], QuerySet[Issue]],
    wanted: Collection[Fact],
    order: str,
    made_of: Hashable | None,
) -> tuple[str, tuple[Any, ...]]:
    key: Hashable | None = None
    if made_of is not None:
        key = (made_of, frozenset(wanted), order, Issue._meta.db.capabilities.dialect)
        try:
            found = _STATEMENTS.get(key)
        except TypeError:  # a value of the list's arguments is not hashable
            key = found = None
        if found is not None:
            with suppress(KeyError):  # taken out meanwhile, by a loop of another thread
                _STATEMENTS.move_to_end(key)
            return found
    query = page()
    query._make_query()  # a private Tortoise API, pinned <2 (see resolvers/nested.py)
    inner, values = query.query.get_parameterized_sql()
    columns, joined = _columns(wanted, "LEFT JOIN")
    # Only fixed SQL fragments are interpolated around Tortoise's own parameterized SQL.
    sql = f"SELECT i.*{columns} FROM ({inner}) i{joined} ORDER BY {order}"  # noqa: S608
    made = (sql, tuple(values))
    if key is not None:
        _STATEMENTS[key] = made
        if len(_STATEMENTS) > MAX_STATEMENTS:
            with suppress(KeyError):
                _STATEMENTS.popitem(last=False)
    return made


def _columns(wanted: Collection[Fact], join: str) -> tuple[str, str]:
    """The facts' select list (after a first column) and the project's join."""
    dialect = Issue._meta.db.capabilities.dialect
    chosen = [fact for fact in Fact if fact in wanted]
    columns = "".join(
        f", {_subquery(fact, dialect)} AS {fact.value}" for fact in chosen if fact != Fact.PROJECT
    )
    joined = ""
    if Fact.PROJECT in chosen:
        columns += f", {joins.select_list(Project, 'p')}"
        joined = f" {join} project p ON p.id = i.project_id"
    return columns, joined


def _read(row: Mapping[str, Any], wanted: Collection[Fact], projects: dict[int, Project]) -> Facts:
    facts = Facts()
    if Fact.PROJECT in wanted:
        project_id = row["p__id"]
        if project_id is not None:
            facts.project = projects.get(project_id)
            if facts.project is None:
                facts.project = projects[project_id] = joins.hydrate(Project, row, "p")
    if Fact.LABELS in wanted:
        # JSON text on both engines; PostgreSQL's json_agg of no rows is NULL.
        facts.labels = sorted(orjson.loads(row["labels"])) if row["labels"] else []
    if Fact.TIME_SPENT in wanted:
        facts.time_spent = int(row["time_spent"] or 0)
    if Fact.COMMENT_COUNT in wanted:
        facts.comment_count = int(row["comment_count"])
    return facts


async def labels_of(issue_ids: list[int]) -> dict[int, list[str]]:
    found = await of_issues(issue_ids, [Fact.LABELS])
    return {key: facts.labels for key, facts in found.items()}


async def time_spent(issue_ids: list[int]) -> dict[int, int]:
    found = await of_issues(issue_ids, [Fact.TIME_SPENT])
    return {key: facts.time_spent for key, facts in found.items()}


async def comment_counts(issue_ids: list[int]) -> dict[int, int]:
    found = await of_issues(issue_ids, [Fact.COMMENT_COUNT])
    return {key: facts.comment_count for key, facts in found.items()}
