"""Batched loading: a nested issue list costs the same number of SQL statements for 1 or 100.

Statements are counted as Tortoise sends them: it logs each executed query on the
"tortoise.db_client" logger at DEBUG ("%s: %s", query, values); its lines about opening
and closing connections are not statements and are left out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from lightningtrack.models.landlord import Role
from lightningtrack.models.workspace import (
    Comment,
    Issue,
    IssueStatus,
    Label,
    Project,
    TimeEntry,
)
from lightningtrack.resolvers import issue_facts
from lightningtrack.resolvers import issues as issue_rows
from lightningtrack.resolvers.issue_facts import Fact
from lightningtrack.resolvers.pagination import PageArgs
from lightningtrack.schema.loaders import Loaders
from lightningtrack.schema.tracking import issue_list
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, statements
from tests.tracking.conftest import (
    account_id,
    account_uuid,
    create_comment,
    create_issue,
    create_project,
    join,
    seed_issues,
    workspace_of,
)

NESTED = """
query($first: Int) {
  issues(first: $first) {
    nodes {
      key
      project { key }
      assignee { name }
      creator { name }
      labels
      timeSpentSeconds
      comments(first: 3) { totalCount nodes { author { name } } }
    }
  }
}
"""
LABELS = ["backend", "bug", "frontend", "p1", "ui"]


async def seed(
    tenancy: Tenancy, owner: Client, people: dict[str, uuid.UUID], count: int
) -> dict[str, dict[str, Any]]:
    """``count`` issues over two projects with assignees, creators, labels, comments by
    several authors and time entries; returns what the nested query should answer.

    Every issue has at least one of each, so that one issue alone exercises every loader,
    and each has a comment by "Cy", who is nobody's assignee or creator: the authors'
    accounts cost a statement of their own for one issue as for a hundred.
    """
    workers = ["Ada", "Bo", "Mia", "Owner"]
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    half = count // 2
    specs: dict[str, list[dict[str, Any]]] = {"WEB": [], "API": []}
    for n in range(count):
        specs["WEB" if n < half else "API"].append(
            {
                "title": f"Issue {n}",
                "assignee_id": None if n % 4 == 3 else people[workers[n % 4]],
                "creator_id": people[workers[(n + 1) % 4]],
            }
        )
    await seed_issues(tenancy, owner, web["id"], specs["WEB"])
    await seed_issues(tenancy, owner, api["id"], specs["API"])

    by_id = {uuid_: name for name, uuid_ in people.items()}
    expected: dict[str, dict[str, Any]] = {}
    started = datetime(2026, 3, 2, 9, tzinfo=UTC)
    async with tenancy.workspace(await workspace_of(owner)):
        labels = [await Label.create(name=name) for name in LABELS]
        issues = await Issue.all().select_related("project").order_by("id")
        comments: list[Comment] = []
        entries: list[TimeEntry] = []
        for n, issue in enumerate(issues):
            chosen = [labels[(n + k) % len(labels)] for k in range(n % 3 + 1)]
            await issue.labels.add(*chosen)
            authors = ["Cy", *(workers[(n + k) % 4] for k in range(n % 5))]
            comments += [
                Comment(issue_id=issue.id, author_id=people[a], body=f"c{k}")
                for k, a in enumerate(authors)
            ]
            durations = [60 * (k + 1) for k in range(n % 3 + 1)]
            entries += [
                TimeEntry(
                    issue_id=issue.id,
                    account_id=people[workers[k % 4]],
                    started_at=started + timedelta(hours=k),
                    duration_seconds=seconds,
                )
                for k, seconds in enumerate(durations)
            ]
            key = f"{issue.project.key}-{issue.number}"
            expected[key] = {
                "key": key,
                "project": {"key": issue.project.key},
                "assignee": {"name": by_id[issue.assignee_id]} if issue.assignee_id else None,
                "creator": {"name": by_id[issue.creator_id]} if issue.creator_id else None,
                "labels": sorted(label.name for label in chosen),
                "timeSpentSeconds": sum(durations),
                "comments": {
                    "totalCount": len(authors),
                    "nodes": [{"author": {"name": a}} for a in authors[:3]],
                },
            }
        await Comment.bulk_create(comments)
        await TimeEntry.bulk_create(entries)
    return expected


async def test_nested_issue_list_costs_the_same_for_one_and_a_hundred(
    tenancy: Tenancy, make_client: Any, owner: Client, member: Client, admin: Client
) -> None:
    """No N+1: projects, accounts, labels, time, comment pages and their authors are each
    loaded for the whole page at once, so 100 issues take as many statements as 1."""
    extra = [await join(make_client, owner, Role.MEMBER, name) for name in ("Bo", "Cy")]
    clients = {"Owner": owner, "Mia": member, "Ada": admin, "Bo": extra[0], "Cy": extra[1]}
    people = {name: account_uuid(await account_id(c)) for name, c in clients.items()}
    expected = await seed(tenancy, owner, people, 110)

    await owner.gql(NESTED, {"first": 1})  # warm up: session touch, pools, caches
    with statements() as one:
        small = await owner.gql(NESTED, {"first": 1})
    with statements() as hundred:
        large = await owner.gql(NESTED, {"first": 100})

    assert len(small["issues"]["nodes"]) == 1
    assert len(large["issues"]["nodes"]) == 100
    assert len(one) == len(hundred), "\n".join(["N=1:", *one, "N=100:", *hundred])
    assert len(hundred) <= 15, "\n".join(hundred)

    # Batching must not mix up whose row is whose.
    for got in large["issues"]["nodes"]:
        assert got == expected[got["key"]], got["key"]
    assert any(n["comments"]["totalCount"] > 3 for n in large["issues"]["nodes"])
    assert len({n["creator"]["name"] for n in large["issues"]["nodes"]}) == 4


DASHBOARD = """
query($first: Int) {
  issues(first: $first) {
    nodes {
      key project { key name } assignee { name } labels timeSpentSeconds
      comments { totalCount }
    }
  }
}
"""


async def test_dashboard_reads_the_facts_of_its_issues_in_one_statement(
    tenancy: Tenancy, make_client: Any, owner: Client, member: Client, admin: Client
) -> None:
    """Projects, labels, time spent and comment counts of a whole page: read with the
    page, in its statement, so the list costs the page and the people, for 1 issue as for
    100."""
    extra = [await join(make_client, owner, Role.MEMBER, name) for name in ("Bo", "Cy")]
    clients = {"Owner": owner, "Mia": member, "Ada": admin, "Bo": extra[0], "Cy": extra[1]}
    people = {name: account_uuid(await account_id(c)) for name, c in clients.items()}
    expected = await seed(tenancy, owner, people, 100)

    await owner.gql(DASHBOARD, {"first": 1})  # warm up: session touch, pools, caches
    for first in (1, 100):
        with statements() as sent:
            found = await owner.gql(DASHBOARD, {"first": first})
        nodes = found["issues"]["nodes"]
        assert len(nodes) == first
        facts = [s for s in sent if "issue_label" in s]
        assert len(facts) == 1, "\n".join(sent)
        assert "time_entry" in facts[0] and "comment" in facts[0]
        assert "JOIN project" in facts[0]
        assert 'FROM "issue"' in facts[0] and "LIMIT" in facts[0]  # the page itself
        # Session, membership, the page with its projects and facts, the assignees.
        assert len(sent) == 4, "\n".join(sent)
        for got in nodes:
            want = expected[got["key"]]
            assert got["labels"] == want["labels"]
            assert got["timeSpentSeconds"] == want["timeSpentSeconds"]
            assert got["comments"] == {"totalCount": want["comments"]["totalCount"]}
            assert got["assignee"] == want["assignee"]


async def test_a_page_leaves_out_rows_whose_project_went_meanwhile(
    tenancy: Tenancy, owner: Client
) -> None:
    """An issue list reads its projects after its rows (with their facts): rows whose
    project was deleted in between (and they with it) are left out, rows and cursors
    together."""
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    for project in (web, api, web):
        await create_issue(owner, project["id"])
    async with tenancy.workspace(await workspace_of(owner)):
        # Without facts asked for with it, the page is read alone (as nested pages are).
        page, read = await issue_rows.list_page(
            PageArgs(first=10), None, issue_rows.sort_key(None, None)
        )
        assert read is None
        assert len(page.rows) == 3
        await Project.filter(key="API").delete()
        info = SimpleNamespace(context=SimpleNamespace(loaders=Loaders()), selected_fields=[])
        found = await issue_list(info, page)  # type: ignore[arg-type]
        assert [node.key for node in found.nodes] == ["WEB-1", "WEB-2"]
    assert [edge.cursor for edge in found.edges] == [page.cursors[0], page.cursors[2]]


async def test_a_page_read_with_its_facts_is_the_page_and_the_facts_read_apart(
    tenancy: Tenancy, owner: Client
) -> None:
    """The page's statement with the facts around it (``issue_facts.page_with_facts``)
    answers what the page alone and then ``of_issues`` answer: the same rows in the same
    order, cursors, ends and facts, for every order, filters, and both directions."""
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    me = await account_id(owner)
    for number in range(9):
        project = (web, api)[number % 2]
        labels = [["bug"], ["bug", "ui"], []][number % 3]
        extra = {"assigneeId": me} if number % 4 == 0 else {}
        issue = await create_issue(owner, project["id"], f"Issue {number}", labels=labels, **extra)
        if number % 3 == 1:
            await create_comment(owner, issue["id"], "Hi")
    every = frozenset(Fact)
    filters = [
        None,
        issue_rows.IssueFilter(status=(IssueStatus.TODO,)),
        issue_rows.IssueFilter(label="bug"),
        issue_rows.IssueFilter(search="issue 1"),
        issue_rows.IssueFilter(project_id=api["id"], assignee_id=me),
    ]
    checked = 0
    async with tenancy.workspace(await workspace_of(owner)):
        for order in ("CREATED_AT", "PRIORITY", "NUMBER", "UPDATED_AT"):
            for direction in ("ASC", "DESC"):
                key = issue_rows.sort_key(order, direction)
                for issue_filter in filters:
                    alone, _ = await issue_rows.list_page(PageArgs(first=3), issue_filter, key)
                    pages = [PageArgs(first=3), PageArgs(last=2)]
                    if alone.rows:
                        pages.append(PageArgs(first=4, after=alone.cursors[0]))
                        pages.append(PageArgs(last=4, before=alone.cursors[-1]))
                    for args in pages:
                        plain, none = await issue_rows.list_page(args, issue_filter, key)
                        merged, read = await issue_rows.list_page(args, issue_filter, key, every)
                        kept = len(issue_facts._STATEMENTS)
                        # Asked again: the statement kept for these arguments, the same page.
                        again, read_again = await issue_rows.list_page(
                            args, issue_filter, key, every
                        )
                        assert len(issue_facts._STATEMENTS) == kept
                        assert [r.__dict__ for r in again.rows] == [r.__dict__ for r in merged.rows]
                        assert read_again == read
                        assert none is None and read is not None
                        assert [r.id for r in merged.rows] == [r.id for r in plain.rows]
                        assert [r.__dict__ for r in merged.rows] == [r.__dict__ for r in plain.rows]
                        assert list(merged.cursors) == list(plain.cursors)
                        for end in ("has_next", "has_previous", "count"):
                            ours, theirs = getattr(merged, end), getattr(plain, end)
                            if callable(theirs):  # looked up when asked for
                                ours, theirs = await ours(), await theirs()
                            assert ours == theirs, end
                        apart = await issue_facts.of_issues([r.id for r in plain.rows], every)
                        assert read == apart
                        checked += len(plain.rows)
    assert checked > 100


PAGES_OF_COMMENTS = """
query($after: String) {
  issues(first: 10) {
    nodes {
      key
      comments(first: 2, after: $after) {
        nodes { body }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


async def test_the_comment_pages_of_many_issues_are_one_statement(owner: Client) -> None:
    """Each issue's page of comments, for every issue of the list: one statement that
    ranks the comments within their issues and reads the rows it keeps, whatever the
    number of issues; pages, their ends and their cursors stay each issue's own."""
    project = await create_project(owner, "WEB")
    bodies: dict[str, list[str]] = {}
    for n in range(4):
        issue = await create_issue(owner, project["id"], f"Issue {n}")
        bodies[issue["key"]] = [f"{issue['key']} c{k}" for k in range(n)]
        for body in bodies[issue["key"]]:
            await create_comment(owner, issue["id"], body)
    await owner.gql(PAGES_OF_COMMENTS)  # warm up: session touch, pools, caches
    with statements() as sent:
        found = await owner.gql(PAGES_OF_COMMENTS)
    of_comments = [s for s in sent if '"comment"' in s]
    assert len(of_comments) == 1, "\n".join(sent)
    assert "ROW_NUMBER()" in of_comments[0]
    cursors = {}
    for node in found["issues"]["nodes"]:
        page = node["comments"]
        want = bodies[node["key"]]
        assert [c["body"] for c in page["nodes"]] == want[:2], node["key"]
        assert page["pageInfo"]["hasNextPage"] is (len(want) > 2), node["key"]
        cursors[node["key"]] = page["pageInfo"]["endCursor"]
    # The last issue's third comment is the only one past its first page.
    last = max(bodies, key=lambda key: len(bodies[key]))
    after = await owner.gql(PAGES_OF_COMMENTS, {"after": cursors[last]})
    rest = {n["key"]: [c["body"] for c in n["comments"]["nodes"]] for n in after["issues"]["nodes"]}
    assert rest[last] == bodies[last][2:]


async def test_kept_page_statements_are_bounded(
    tenancy: Tenancy, owner: Client, monkeypatch: Any
) -> None:
    """Statements kept for pages with facts: at most MAX_STATEMENTS, the least recently
    used going first; a page whose statement went is read as before."""
    monkeypatch.setattr(issue_facts, "MAX_STATEMENTS", 3)
    monkeypatch.setattr(issue_facts, "_STATEMENTS", type(issue_facts._STATEMENTS)())
    project = await create_project(owner, "WEB")
    for number in range(6):
        await create_issue(owner, project["id"], f"Issue {number}")
    key = issue_rows.sort_key(None, None)
    every = frozenset(Fact)
    async with tenancy.workspace(await workspace_of(owner)):
        sizes = [1, 2, 3, 1, 4]
        for size in sizes:
            page, _ = await issue_rows.list_page(PageArgs(first=size), None, key, every)
            assert len(page.rows) == size
            assert len(issue_facts._STATEMENTS) <= 3
        kept = [made_of[0].first for (made_of, *_rest) in issue_facts._STATEMENTS]
        assert kept == [3, 1, 4]  # 1, used again after 3, outlived 2
