"""Global ids resolve only in their own workspace, and only as their own type.

Both workspaces below are fresh, so each holds a project, an issue, a comment and a time
entry with primary key 1: an id that lost its workspace or its type would name a row of
the wrong workspace or of the wrong table. None may: every such id is NOT_FOUND (or null
for lookups), and neither workspace changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Client
from tests.tracking.conftest import (
    COMMENT_CREATE,
    COMMENT_DELETE,
    COMMENT_UPDATE,
    ISSUE,
    ISSUE_BY_ID,
    ISSUE_BY_KEY,
    ISSUE_CREATE,
    ISSUE_DELETE,
    ISSUE_UPDATE,
    PROJECT,
    PROJECT_BY_ID,
    PROJECT_BY_KEY,
    PROJECT_DELETE,
    PROJECT_UPDATE,
    STARTED,
    TIME_ENTRY_CREATE,
    TIME_ENTRY_DELETE,
    TIME_ENTRY_UPDATE,
    account_id,
    create_comment,
    create_issue,
    create_project,
    log_time,
    node,
    pk_of,
)

SNAPSHOT = f"""
{{
  projects(includeArchived: true) {{ nodes {{ {PROJECT} updatedAt timeSpentSeconds }} }}
  issues {{
    totalCount
    nodes {{ {ISSUE} comments {{ nodes {{ id body updatedAt author {{ id }} }} }} }}
  }}
  timeEntries {{
    totalCount totalSeconds nodes {{ id startedAt durationSeconds note billable account {{ id }} }}
  }}
}}
"""


@dataclass
class World:
    """One workspace with one of each: project, issue, comment, time entry."""

    client: Client
    account: str
    project: dict[str, Any]
    issue: dict[str, Any]
    comment: dict[str, Any]
    entry: dict[str, Any]

    async def snapshot(self) -> dict[str, Any]:
        return await self.client.gql(SNAPSHOT)


async def build(client: Client) -> World:
    project = await create_project(client, "WEB")
    issue = await create_issue(client, project["id"], "Secret", labels=["private"])
    comment = await create_comment(client, issue["id"], "Secret comment")
    entry = await log_time(client, issue["id"], 3600, note="Secret work")
    return World(client, await account_id(client), project, issue, comment, entry)


@pytest.fixture
async def worlds(owner: Client, other_workspace: Client) -> tuple[World, World]:
    a, b = await build(owner), await build(other_workspace)
    for kind in ("project", "issue", "comment", "entry"):
        assert pk_of(getattr(a, kind)["id"]) == pk_of(getattr(b, kind)["id"]) == 1
        assert getattr(a, kind)["id"] != getattr(b, kind)["id"]
    return a, b


Variables = Callable[[World, World], dict[str, Any]]

# Every mutation, with ids taken from workspace B (the second world) while bound to A.
FOREIGN_MUTATIONS: list[tuple[str, str, Variables]] = [
    ("projectUpdate", PROJECT_UPDATE, lambda a, b: {"id": b.project["id"], "input": {"name": "X"}}),
    ("projectDelete", PROJECT_DELETE, lambda a, b: {"id": b.project["id"]}),
    (
        "issueCreate",
        ISSUE_CREATE,
        lambda a, b: {"input": {"projectId": b.project["id"], "title": "X"}},
    ),
    ("issueUpdate", ISSUE_UPDATE, lambda a, b: {"id": b.issue["id"], "input": {"title": "X"}}),
    ("issueDelete", ISSUE_DELETE, lambda a, b: {"id": b.issue["id"]}),
    (
        "commentCreate",
        COMMENT_CREATE,
        lambda a, b: {"input": {"issueId": b.issue["id"], "body": "X"}},
    ),
    ("commentUpdate", COMMENT_UPDATE, lambda a, b: {"id": b.comment["id"], "body": "X"}),
    ("commentDelete", COMMENT_DELETE, lambda a, b: {"id": b.comment["id"]}),
    (
        "timeEntryCreate",
        TIME_ENTRY_CREATE,
        lambda a, b: {
            "input": {"issueId": b.issue["id"], "startedAt": STARTED, "durationSeconds": 60}
        },
    ),
    (
        "timeEntryUpdate",
        TIME_ENTRY_UPDATE,
        lambda a, b: {"id": b.entry["id"], "input": {"durationSeconds": 1}},
    ),
    ("timeEntryDelete", TIME_ENTRY_DELETE, lambda a, b: {"id": b.entry["id"]}),
]


async def test_ids_of_another_workspace_are_not_found_by_every_mutation(
    worlds: tuple[World, World],
) -> None:
    """Each mutation, given B's ids while bound to A, is NOT_FOUND and leaves both as they were."""
    a, b = worlds
    before_a, before_b = await a.snapshot(), await b.snapshot()
    for name, document, variables in FOREIGN_MUTATIONS:
        body = await a.client.post(document, variables(a, b))
        assert body.get("data") is None, name
        codes = [e["extensions"]["code"] for e in body["errors"]]
        assert codes == ["NOT_FOUND"], f"{name}: {body['errors']}"
        assert await b.snapshot() == before_b, f"{name} changed workspace B"
        assert await a.snapshot() == before_a, f"{name} changed workspace A"


async def test_an_account_of_another_workspace_cannot_be_assigned(
    worlds: tuple[World, World],
) -> None:
    """B's owner is no member of A: assigning them is NOT_FOUND on input.assigneeId."""
    a, b = worlds
    before = await a.snapshot()
    error = await a.client.error(
        ISSUE_CREATE,
        {"input": {"projectId": a.project["id"], "title": "X", "assigneeId": b.account}},
    )
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "input.assigneeId"}
    error = await a.client.error(
        ISSUE_UPDATE, {"id": a.issue["id"], "input": {"assigneeId": b.account}}
    )
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "input.assigneeId"}
    assert await a.snapshot() == before


async def test_lookups_of_another_workspace_ids_are_null(worlds: tuple[World, World]) -> None:
    """node, project(id) and issue(id) with B's ids answer null while bound to A."""
    a, b = worlds
    for kind in ("project", "issue", "comment", "entry"):
        assert await node(a.client, getattr(b, kind)["id"]) is None, kind
    assert (await a.client.gql(PROJECT_BY_ID, {"id": b.project["id"]}))["project"] is None
    assert (await a.client.gql(ISSUE_BY_ID, {"id": b.issue["id"]}))["issue"] is None
    # The same keys exist in both; by key each workspace sees its own.
    assert (await a.client.gql(PROJECT_BY_KEY, {"key": "WEB"}))["project"]["id"] == a.project["id"]
    assert (await a.client.gql(ISSUE_BY_KEY, {"key": "WEB-1"}))["issue"]["id"] == a.issue["id"]
    assert (await b.client.gql(ISSUE_BY_KEY, {"key": "WEB-1"}))["issue"]["id"] == b.issue["id"]


FOREIGN_FILTERS = [
    ("query($id: ID) { issues(filter: { projectId: $id }) { nodes { id } } }", "project"),
    ("query($id: ID) { timeEntries(filter: { projectId: $id }) { nodes { id } } }", "project"),
    ("query($id: ID) { timeEntries(filter: { issueId: $id }) { nodes { id } } }", "issue"),
]


async def test_filters_with_another_workspace_ids_return_nothing_of_it(
    worlds: tuple[World, World],
) -> None:
    """A filter naming B's row, while bound to A, is NOT_FOUND or empty: never B's rows,
    nor A's own, not even right after B sent the same (statements made for B's list, its
    ids decoded, are not A's)."""
    a, b = worlds
    for query, key in FOREIGN_FILTERS:
        own = await b.client.post(query, {"id": getattr(b, key)["id"]})
        assert next(iter(own["data"].values()))["nodes"], query
        body = await a.client.post(query, {"id": getattr(b, key)["id"]})
        if body.get("errors"):
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], query
        else:
            assert next(iter(body["data"].values()))["nodes"] == [], query


async def test_filters_by_an_outside_account_match_nothing(worlds: tuple[World, World]) -> None:
    """Rows of A are never attributed to B's owner."""
    a, b = worlds
    data = await a.client.gql(
        """query($id: ID) {
          issues(filter: { assigneeId: $id }) { totalCount }
          timeEntries(filter: { accountId: $id }) { totalCount totalSeconds }
        }""",
        {"id": b.account},
    )
    assert data == {
        "issues": {"totalCount": 0},
        "timeEntries": {"totalCount": 0, "totalSeconds": 0},
    }


# Every mutation that takes an id, given an id of A of each other type.
ID_SLOTS: list[tuple[str, str, str, Callable[[str], dict[str, Any]]]] = [
    ("projectUpdate", "project", PROJECT_UPDATE, lambda i: {"id": i, "input": {"name": "X"}}),
    ("projectDelete", "project", PROJECT_DELETE, lambda i: {"id": i}),
    (
        "issueCreate",
        "project",
        ISSUE_CREATE,
        lambda i: {"input": {"projectId": i, "title": "X"}},
    ),
    ("issueUpdate", "issue", ISSUE_UPDATE, lambda i: {"id": i, "input": {"title": "X"}}),
    ("issueDelete", "issue", ISSUE_DELETE, lambda i: {"id": i}),
    ("commentCreate", "issue", COMMENT_CREATE, lambda i: {"input": {"issueId": i, "body": "X"}}),
    ("commentUpdate", "comment", COMMENT_UPDATE, lambda i: {"id": i, "body": "X"}),
    ("commentDelete", "comment", COMMENT_DELETE, lambda i: {"id": i}),
    (
        "timeEntryCreate",
        "issue",
        TIME_ENTRY_CREATE,
        lambda i: {"input": {"issueId": i, "startedAt": STARTED, "durationSeconds": 60}},
    ),
    (
        "timeEntryUpdate",
        "entry",
        TIME_ENTRY_UPDATE,
        lambda i: {"id": i, "input": {"durationSeconds": 1}},
    ),
    ("timeEntryDelete", "entry", TIME_ENTRY_DELETE, lambda i: {"id": i}),
]


async def test_ids_of_the_wrong_type_are_not_found(worlds: tuple[World, World]) -> None:
    """An issue id where a project id belongs (and so on) is NOT_FOUND, though both have pk 1."""
    a, _ = worlds
    before = await a.snapshot()
    ids = {kind: getattr(a, kind)["id"] for kind in ("project", "issue", "comment", "entry")}
    ids["account"] = a.account
    for name, expected, document, variables in ID_SLOTS:
        for kind, wrong in ids.items():
            if kind == expected:
                continue
            body = await a.client.post(document, variables(wrong))
            codes = [e["extensions"]["code"] for e in body.get("errors") or []]
            assert codes == ["NOT_FOUND"], f"{name} with a {kind} id: {body}"
    assert await a.snapshot() == before


async def test_lookups_of_the_wrong_type_are_null(worlds: tuple[World, World]) -> None:
    """project(id: <issue id>) and issue(id: <project id>) find nothing."""
    a, _ = worlds
    for wrong in (a.issue["id"], a.comment["id"], a.entry["id"], a.account):
        assert (await a.client.gql(PROJECT_BY_ID, {"id": wrong}))["project"] is None
    for wrong in (a.project["id"], a.comment["id"], a.entry["id"], a.account):
        assert (await a.client.gql(ISSUE_BY_ID, {"id": wrong}))["issue"] is None
    for garbage in ("", "garbage", "UHJvamVjdDo", "UHJvamVjdDp4"):
        assert await node(a.client, garbage) is None
