"""What lists show of every issue (its project, labels, time spent and comment count), for
many issues in one statement: the project joined, one correlated subquery per other fact
asked for, so a page costs one round trip however many of them it shows and however many
issues it holds."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

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
    dialect = Issue._meta.db.capabilities.dialect
    chosen = [fact for fact in Fact if fact in wanted]
    columns = "".join(
        f", {_subquery(fact, dialect)} AS {fact.value}" for fact in chosen if fact != Fact.PROJECT
    )
    source = "issue i"
    if Fact.PROJECT in chosen:
        columns += f", {joins.select_list(Project, 'p')}"
        source += " JOIN project p ON p.id = i.project_id"
    condition, values = joins.among(Issue, "i.id", issue_ids)
    # Only fixed SQL fragments are interpolated; the ids are parameters.
    sql = f"SELECT i.id AS id{columns} FROM {source} WHERE {condition}"  # noqa: S608
    rows = await joins.fetch(Issue, sql, values)
    found: dict[int, Facts] = {}
    projects: dict[int, Project] = {}  # issues of one project share its model
    for row in rows:
        facts = Facts()
        if Fact.PROJECT in chosen:
            project_id = row["p__id"]
            facts.project = projects.get(project_id)
            if facts.project is None:
                facts.project = projects[project_id] = joins.hydrate(Project, row, "p")
        if Fact.LABELS in chosen:
            # JSON text on both engines; PostgreSQL's json_agg of no rows is NULL.
            facts.labels = sorted(orjson.loads(row["labels"])) if row["labels"] else []
        if Fact.TIME_SPENT in chosen:
            facts.time_spent = int(row["time_spent"] or 0)
        if Fact.COMMENT_COUNT in chosen:
            facts.comment_count = int(row["comment_count"])
        found[int(row["id"])] = facts
    return found


async def labels_of(issue_ids: list[int]) -> dict[int, list[str]]:
    found = await of_issues(issue_ids, [Fact.LABELS])
    return {key: facts.labels for key, facts in found.items()}


async def time_spent(issue_ids: list[int]) -> dict[int, int]:
    found = await of_issues(issue_ids, [Fact.TIME_SPENT])
    return {key: facts.time_spent for key, facts in found.items()}


async def comment_counts(issue_ids: list[int]) -> dict[int, int]:
    found = await of_issues(issue_ids, [Fact.COMMENT_COUNT])
    return {key: facts.comment_count for key, facts in found.items()}
