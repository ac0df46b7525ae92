"""Issues: creation, per-project numbers, lookup by id and key, changes, labels, assignees."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Client
from tests.tracking.conftest import (
    ISSUE_BY_ID,
    ISSUE_BY_KEY,
    ISSUE_CREATE,
    ISSUE_DELETE,
    ISSUE_UPDATE,
    account_id,
    create_comment,
    create_issue,
    create_project,
    log_time,
    node,
)

ISSUE_COUNT = "query($p: ID) { issues(filter: { projectId: $p }) { totalCount } }"


async def issue_count(client: Client, project_id: str | None = None) -> int:
    data = await client.gql(ISSUE_COUNT, {"p": project_id})
    count: int = data["issues"]["totalCount"]
    return count


async def issue_by_id(client: Client, issue_id: str) -> dict[str, Any] | None:
    data = await client.gql(ISSUE_BY_ID, {"id": issue_id})
    found: dict[str, Any] | None = data["issue"]
    return found


async def test_issue_create_fills_in_defaults_and_the_creator(owner: Client) -> None:
    """A new issue is number 1 of its project, in the backlog, without priority, by the viewer."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"], "  First issue ")
    viewer = await account_id(owner)
    assert issue["key"] == "WEB-1"
    assert issue["number"] == 1
    assert issue["title"] == "First issue"
    assert issue["status"] == "BACKLOG"
    assert issue["priority"] == "NONE"
    assert issue["description"] is None
    assert issue["estimateSeconds"] is None
    assert issue["labels"] == []
    assert issue["assignee"] is None
    assert issue["creator"] == {"id": viewer, "name": "Owner"}
    assert issue["project"] == {"id": project["id"], "key": "WEB"}


async def test_issue_create_keeps_every_given_field(owner: Client, member: Client) -> None:
    """Status, priority, description, estimate, labels and assignee are stored as given."""
    project = await create_project(owner, "WEB")
    assignee = await account_id(member)
    issue = await create_issue(
        owner,
        project["id"],
        "Full",
        description="Steps to reproduce",
        status="IN_PROGRESS",
        priority="URGENT",
        estimateSeconds=0,
        labels=["ui"],
        assigneeId=assignee,
    )
    assert issue["description"] == "Steps to reproduce"
    assert issue["status"] == "IN_PROGRESS"
    assert issue["priority"] == "URGENT"
    assert issue["estimateSeconds"] == 0
    assert issue["labels"] == ["ui"]
    assert issue["assignee"] == {"id": assignee, "name": "Mia"}
    assert await issue_by_id(owner, issue["id"]) == issue


async def test_issue_is_found_by_key_and_by_id(owner: Client) -> None:
    """issue(key: "WEB-42") names the 42nd issue of WEB; issue(id) and node(id) agree with it."""
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    for n in range(1, 43):
        await create_issue(owner, web["id"], f"Web {n}")
    other = await create_issue(owner, api["id"], "Api 1")

    data = await owner.gql(ISSUE_BY_KEY, {"key": "WEB-42"})
    issue = data["issue"]
    assert issue["key"] == "WEB-42"
    assert issue["number"] == 42
    assert issue["title"] == "Web 42"
    assert await issue_by_id(owner, issue["id"]) == issue
    found = await node(owner, issue["id"])
    assert found is not None
    assert found["__typename"] == "Issue"
    assert found["key"] == "WEB-42"

    data = await owner.gql(ISSUE_BY_KEY, {"key": "API-1"})
    assert data["issue"]["id"] == other["id"]


async def test_issue_by_unknown_or_malformed_key_is_null(owner: Client) -> None:
    """A key that names no issue gives null, not an error and not some other issue."""
    project = await create_project(owner, "WEB")
    await create_issue(owner, project["id"])
    for key in (
        "WEB-2",
        "WEB-0",
        "API-1",
        "web-1",
        "WEB",
        "WEB-",
        "-1",
        "WEB-x",
        "WEB-1-1",
        "WEB-01",
    ):
        data = await owner.gql(ISSUE_BY_KEY, {"key": key})
        assert data["issue"] is None, key


async def test_issue_lookup_needs_exactly_one_of_id_and_key(owner: Client) -> None:
    """Neither or both of id and key is a mistake of the caller."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"])
    error = await owner.error("{ issue { id } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await owner.error(
        'query($id: ID) { issue(id: $id, key: "WEB-1") { id } }', {"id": issue["id"]}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_fifty_concurrent_creates_get_numbers_one_to_fifty(owner: Client) -> None:
    """Concurrent creations in one project each get the next number: none twice, none skipped."""
    project = await create_project(owner, "WEB")
    created = await asyncio.gather(
        *(create_issue(owner, project["id"], f"Race {n}") for n in range(50))
    )
    assert sorted(issue["number"] for issue in created) == list(range(1, 51))
    assert sorted(issue["key"] for issue in created) == sorted(f"WEB-{n}" for n in range(1, 51))
    assert await issue_count(owner, project["id"]) == 50


async def test_numbers_are_per_project_and_never_reused(owner: Client) -> None:
    """Deleting the newest issue does not hand its number out again; projects count apart."""
    web = await create_project(owner, "WEB")
    api = await create_project(owner, "API")
    first = await create_issue(owner, web["id"])
    second = await create_issue(owner, web["id"])
    assert (first["number"], second["number"]) == (1, 2)
    assert (await create_issue(owner, api["id"]))["key"] == "API-1"

    await owner.gql(ISSUE_DELETE, {"id": second["id"]})
    third = await create_issue(owner, web["id"])
    assert third["key"] == "WEB-3"
    await owner.gql(ISSUE_DELETE, {"id": first["id"]})
    await owner.gql(ISSUE_DELETE, {"id": third["id"]})
    assert (await create_issue(owner, web["id"]))["key"] == "WEB-4"
    data = await owner.gql(ISSUE_BY_KEY, {"key": "WEB-2"})
    assert data["issue"] is None


async def test_labels_are_trimmed_sorted_and_deduplicated(owner: Client) -> None:
    """Labels come back in one canonical form, whatever order and repeats were sent."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(
        owner, project["id"], labels=["ui", " bug", "needs review", "bug ", "ui", "a/b"]
    )
    assert issue["labels"] == ["a/b", "bug", "needs review", "ui"]

    data = await owner.gql(ISSUE_UPDATE, {"id": issue["id"], "input": {"labels": ["z", "bug"]}})
    assert data["issueUpdate"]["issue"]["labels"] == ["bug", "z"]
    data = await owner.gql(ISSUE_UPDATE, {"id": issue["id"], "input": {"title": "Renamed"}})
    assert data["issueUpdate"]["issue"]["labels"] == ["bug", "z"]
    data = await owner.gql(ISSUE_UPDATE, {"id": issue["id"], "input": {"labels": []}})
    assert data["issueUpdate"]["issue"]["labels"] == []


BAD_LABELS: list[list[str]] = [
    [""],
    ["   "],
    ["-starts-with-dash"],
    ["x" * 51],
    ["line\nbreak"],
    ["semi;colon"],
    ["ok", "<script>"],
    [f"label{n}" for n in range(26)],
]


async def test_bad_labels_are_rejected_and_nothing_is_written(owner: Client) -> None:
    """A bad label rejects the whole creation or update, naming input.labels."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"], "Kept", labels=["keep"])
    for labels in BAD_LABELS:
        error = await owner.error(
            ISSUE_CREATE, {"input": {"projectId": project["id"], "title": "T", "labels": labels}}
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.labels"}, labels
        error = await owner.error(
            ISSUE_UPDATE, {"id": issue["id"], "input": {"title": "Changed", "labels": labels}}
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.labels"}, labels
    assert await issue_count(owner) == 1
    assert await issue_by_id(owner, issue["id"]) == issue


INVALID_ISSUE_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"title": ""}, "input.title"),
    ({"title": "   "}, "input.title"),
    ({"title": "x" * 256}, "input.title"),
    ({"title": "nul\x00byte"}, "input.title"),
    ({"estimateSeconds": -1}, "input.estimateSeconds"),
    ({"description": "x" * 65537}, "input.description"),
]


async def test_invalid_issue_input_is_rejected_naming_the_field(owner: Client) -> None:
    """Out-of-range input is BAD_USER_INPUT with the field, on create and on update alike,
    and a rejected change writes nothing, not even its valid parts."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"], "Kept", labels=["keep"])
    for fields, field in INVALID_ISSUE_INPUT:
        error = await owner.error(
            ISSUE_CREATE, {"input": {"projectId": project["id"], "title": "T", **fields}}
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (fields, error)
        changes = {"status": "DONE", "labels": ["other"], **fields}
        error = await owner.error(ISSUE_UPDATE, {"id": issue["id"], "input": changes})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, fields
    assert await issue_count(owner) == 1
    assert await issue_by_id(owner, issue["id"]) == issue


async def test_title_limits_are_inclusive(owner: Client) -> None:
    """One and 255 characters are both fine."""
    project = await create_project(owner, "WEB")
    assert (await create_issue(owner, project["id"], "x"))["title"] == "x"
    assert (await create_issue(owner, project["id"], "y" * 255))["title"] == "y" * 255


async def test_explicit_null_for_a_required_field_is_rejected(owner: Client) -> None:
    """Leaving a field out keeps it; setting a non-nullable one to null is a mistake."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"], "Kept", labels=["a"])
    for field in ("title", "status", "priority", "labels"):
        error = await owner.error(ISSUE_UPDATE, {"id": issue["id"], "input": {field: None}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": f"input.{field}"}
    assert await issue_by_id(owner, issue["id"]) == issue


async def test_issue_update_changes_only_the_given_fields(owner: Client, member: Client) -> None:
    """Fields left out keep their values; nullable ones set to null are cleared."""
    project = await create_project(owner, "WEB")
    assignee = await account_id(member)
    issue = await create_issue(
        owner,
        project["id"],
        "Before",
        description="Text",
        estimateSeconds=3600,
        assigneeId=assignee,
        labels=["a"],
    )
    data = await owner.gql(
        ISSUE_UPDATE, {"id": issue["id"], "input": {"status": "DONE", "priority": "LOW"}}
    )
    updated = data["issueUpdate"]["issue"]
    assert updated["status"] == "DONE"
    assert updated["priority"] == "LOW"
    unchanged = ("title", "description", "estimateSeconds", "assignee", "labels", "number", "key")
    assert {k: updated[k] for k in unchanged} == {k: issue[k] for k in unchanged}

    data = await owner.gql(
        ISSUE_UPDATE,
        {"id": issue["id"], "input": {"description": None, "estimateSeconds": None}},
    )
    cleared = data["issueUpdate"]["issue"]
    assert cleared["description"] is None
    assert cleared["estimateSeconds"] is None
    assert cleared["assignee"] == {"id": assignee, "name": "Mia"}


async def test_explicit_null_assignee_clears_it(owner: Client, member: Client) -> None:
    """assigneeId: null unassigns; leaving assigneeId out keeps the assignee."""
    project = await create_project(owner, "WEB")
    assignee = await account_id(member)
    issue = await create_issue(owner, project["id"], assigneeId=assignee)
    data = await owner.gql(ISSUE_UPDATE, {"id": issue["id"], "input": {"title": "Same person"}})
    assert data["issueUpdate"]["issue"]["assignee"]["id"] == assignee
    data = await owner.gql(ISSUE_UPDATE, {"id": issue["id"], "input": {"assigneeId": None}})
    assert data["issueUpdate"]["issue"]["assignee"] is None
    assert (await issue_by_id(owner, issue["id"]) or {})["assignee"] is None
    data = await owner.gql(ISSUE_UPDATE, {"id": issue["id"], "input": {"assigneeId": assignee}})
    assert data["issueUpdate"]["issue"]["assignee"]["id"] == assignee


async def test_assignee_must_be_a_member(owner: Client, other_workspace: Client) -> None:
    """An account outside the workspace (or no account at all) cannot be assigned."""
    project = await create_project(owner, "WEB")
    outsider = await account_id(other_workspace)
    for bad in (outsider, project["id"], "not-an-id"):
        error = await owner.error(
            ISSUE_CREATE, {"input": {"projectId": project["id"], "title": "T", "assigneeId": bad}}
        )
        assert error["extensions"] == {"code": "NOT_FOUND", "field": "input.assigneeId"}
    assert await issue_count(owner) == 0

    issue = await create_issue(owner, project["id"], "Kept")
    error = await owner.error(
        ISSUE_UPDATE, {"id": issue["id"], "input": {"title": "Changed", "assigneeId": outsider}}
    )
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "input.assigneeId"}
    assert await issue_by_id(owner, issue["id"]) == issue


async def test_issue_in_unknown_project_is_not_found(owner: Client) -> None:
    """A project id that names nothing, or names an issue, is NOT_FOUND and creates nothing."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"])
    await owner.gql(
        "mutation($id: ID!) { projectDelete(id: $id) { deletedId } }", {"id": project["id"]}
    )
    for bad in (project["id"], issue["id"], "garbage"):
        error = await owner.error(ISSUE_CREATE, {"input": {"projectId": bad, "title": "T"}})
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await issue_count(owner) == 0


async def test_issue_delete_takes_comments_and_time_entries_along(owner: Client) -> None:
    """A deleted issue is gone by id, key and node, and so are its comments and time."""
    project = await create_project(owner, "WEB")
    issue = await create_issue(owner, project["id"])
    kept = await create_issue(owner, project["id"])
    comment = await create_comment(owner, issue["id"])
    entry = await log_time(owner, issue["id"])
    kept_comment = await create_comment(owner, kept["id"])

    data = await owner.gql(ISSUE_DELETE, {"id": issue["id"]})
    assert data["issueDelete"]["deletedId"] == issue["id"]
    assert await issue_by_id(owner, issue["id"]) is None
    assert (await owner.gql(ISSUE_BY_KEY, {"key": "WEB-1"}))["issue"] is None
    assert await node(owner, issue["id"]) is None
    assert await node(owner, comment["id"]) is None
    assert await node(owner, entry["id"]) is None
    assert await node(owner, kept_comment["id"]) is not None
    data = await owner.gql("{ timeEntries { totalCount totalSeconds } }")
    assert data["timeEntries"] == {"totalCount": 0, "totalSeconds": 0}

    error = await owner.error(ISSUE_DELETE, {"id": issue["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_fields_read_twice_under_aliases_agree(owner: Client) -> None:
    """An issue's people, labels and time, looked up when first read, read again under
    another alias; likewise on a comment's author and a time entry's account."""
    web = await create_project(owner, "WEB")
    issue = await create_issue(owner, web["id"], labels=["ui", "bug"])
    await log_time(owner, issue["id"], 90)
    await create_comment(owner, issue["id"], "First")
    data = await owner.gql(
        """
        query($key: String) {
          issue(key: $key) {
            a: creator { name } b: creator { name } assignee { name }
            l1: labels l2: labels t1: timeSpentSeconds t2: timeSpentSeconds
            comments { nodes { x: author { name } y: author { name } } }
            timeEntries { nodes { x: account { name } y: account { name } } }
          }
        }
        """,
        {"key": "WEB-1"},
    )
    found = data["issue"]
    assert found["a"] == found["b"] and found["a"]["name"]
    assert found["assignee"] is None
    assert found["l1"] == found["l2"] == ["bug", "ui"]
    assert found["t1"] == found["t2"] == 90
    [comment] = found["comments"]["nodes"]
    assert comment["x"] == comment["y"] == found["a"]
    [entry] = found["timeEntries"]["nodes"]
    assert entry["x"] == entry["y"] == found["a"]
