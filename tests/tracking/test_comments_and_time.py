"""Comments and time entries: creation, validation, changes, deletion and totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Client
from tests.tracking.conftest import (
    COMMENT_CREATE,
    COMMENT_DELETE,
    COMMENT_UPDATE,
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
)

ISSUE_COMMENTS = """
query($id: ID, $first: Int, $after: String) {
  issue(id: $id) {
    comments(first: $first, after: $after) {
      totalCount nodes { body author { name } } pageInfo { hasNextPage endCursor }
    }
  }
}
"""
ISSUE_TIME = """
query($id: ID) {
  issue(id: $id) {
    timeSpentSeconds
    timeEntries { totalCount totalSeconds nodes { durationSeconds account { name } } }
    firstOnly: timeEntries(first: 1) { totalCount totalSeconds nodes { durationSeconds } }
  }
}
"""


@pytest.fixture
async def issue(owner: Client) -> dict[str, Any]:
    project = await create_project(owner, "WEB")
    return await create_issue(owner, project["id"])


async def comment_total(client: Client, issue_id: str) -> int:
    data = await client.gql(ISSUE_COMMENTS, {"id": issue_id})
    total: int = data["issue"]["comments"]["totalCount"]
    return total


async def time_total(client: Client) -> dict[str, int]:
    data = await client.gql("{ timeEntries { totalCount totalSeconds } }")
    totals: dict[str, int] = data["timeEntries"]
    return totals


async def test_comment_create_update_and_delete(owner: Client, issue: dict[str, Any]) -> None:
    """A comment belongs to its issue and author; its body can change; deleted, it is gone."""
    comment = await create_comment(owner, issue["id"], "First!")
    viewer = await account_id(owner)
    assert comment["body"] == "First!"
    assert comment["author"] == {"id": viewer, "name": "Owner"}
    assert comment["issue"] == {"id": issue["id"], "key": "WEB-1"}
    found = await node(owner, comment["id"])
    assert found is not None
    assert found["__typename"] == "Comment"
    assert found["body"] == "First!"

    data = await owner.gql(COMMENT_UPDATE, {"id": comment["id"], "body": "Edited"})
    assert data["commentUpdate"]["comment"] == {**comment, "body": "Edited"}
    data = await owner.gql(COMMENT_DELETE, {"id": comment["id"]})
    assert data["commentDelete"]["deletedId"] == comment["id"]
    assert await node(owner, comment["id"]) is None
    assert await comment_total(owner, issue["id"]) == 0
    error = await owner.error(COMMENT_UPDATE, {"id": comment["id"], "body": "Again"})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_bad_comment_body_is_rejected(owner: Client, issue: dict[str, Any]) -> None:
    """A body is 1 to 65,536 characters, not blank; a bad one writes and changes nothing."""
    comment = await create_comment(owner, issue["id"], "Kept")
    for body in ("", "   ", "\n\t", "x" * 65537, "nul\x00"):
        error = await owner.error(COMMENT_CREATE, {"input": {"issueId": issue["id"], "body": body}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.body"}, body
        error = await owner.error(COMMENT_UPDATE, {"id": comment["id"], "body": body})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert error["extensions"]["field"] in ("body", "input.body")
    assert await comment_total(owner, issue["id"]) == 1
    assert await node(owner, comment["id"]) == {"__typename": "Comment", **comment}


async def test_comment_body_limits_are_inclusive(owner: Client, issue: dict[str, Any]) -> None:
    """One character and exactly 65,536 are both accepted, and kept as sent."""
    assert (await create_comment(owner, issue["id"], "x"))["body"] == "x"
    longest = "y" * 65536
    assert (await create_comment(owner, issue["id"], longest))["body"] == longest


async def test_comment_on_unknown_issue_is_not_found(owner: Client, issue: dict[str, Any]) -> None:
    """An issue id that names nothing, or names another type, is NOT_FOUND on input.issueId."""
    for bad in (issue["project"]["id"], "garbage"):
        error = await owner.error(COMMENT_CREATE, {"input": {"issueId": bad, "body": "Hi"}})
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await comment_total(owner, issue["id"]) == 0


async def test_issue_comments_page_in_order(
    owner: Client, member: Client, issue: dict[str, Any]
) -> None:
    """An issue's comments come oldest first, with their authors, page by page."""
    for n in range(5):
        await create_comment(owner if n % 2 == 0 else member, issue["id"], f"c{n}")
    data = await owner.gql(ISSUE_COMMENTS, {"id": issue["id"], "first": 3})
    page = data["issue"]["comments"]
    assert page["totalCount"] == 5
    assert page["nodes"] == [
        {"body": "c0", "author": {"name": "Owner"}},
        {"body": "c1", "author": {"name": "Mia"}},
        {"body": "c2", "author": {"name": "Owner"}},
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    data = await owner.gql(
        ISSUE_COMMENTS, {"id": issue["id"], "first": 3, "after": page["pageInfo"]["endCursor"]}
    )
    rest = data["issue"]["comments"]
    assert [c["body"] for c in rest["nodes"]] == ["c3", "c4"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_time_entry_create_update_and_delete(owner: Client, issue: dict[str, Any]) -> None:
    """A time entry records who worked how long on what; it can change and be deleted."""
    entry = await log_time(owner, issue["id"], 1800, note="Pairing")
    viewer = await account_id(owner)
    assert entry["durationSeconds"] == 1800
    assert entry["note"] == "Pairing"
    assert entry["billable"] is True
    assert entry["account"] == {"id": viewer, "name": "Owner"}
    assert entry["issue"] == {"id": issue["id"], "key": "WEB-1"}
    assert datetime.fromisoformat(entry["startedAt"]) == datetime(2026, 3, 2, 9, tzinfo=UTC)
    found = await node(owner, entry["id"])
    assert found is not None
    assert found["__typename"] == "TimeEntry"

    data = await owner.gql(
        TIME_ENTRY_UPDATE,
        {
            "id": entry["id"],
            "input": {"durationSeconds": 60, "billable": False, "note": None},
        },
    )
    updated = data["timeEntryUpdate"]["timeEntry"]
    assert updated == {**entry, "durationSeconds": 60, "billable": False, "note": None}

    data = await owner.gql(
        TIME_ENTRY_UPDATE, {"id": entry["id"], "input": {"startedAt": "2026-03-02T12:00:00+02:00"}}
    )
    moved = data["timeEntryUpdate"]["timeEntry"]
    ten_utc = datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert datetime.fromisoformat(moved["startedAt"]) == ten_utc
    assert moved["durationSeconds"] == 60
    stored = await node(owner, entry["id"])
    assert stored is not None
    assert datetime.fromisoformat(stored["startedAt"]) == ten_utc

    data = await owner.gql(TIME_ENTRY_DELETE, {"id": entry["id"]})
    assert data["timeEntryDelete"]["deletedId"] == entry["id"]
    assert await node(owner, entry["id"]) is None
    assert await time_total(owner) == {"totalCount": 0, "totalSeconds": 0}


BAD_TIME_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"durationSeconds": 0}, "input.durationSeconds"),
    ({"durationSeconds": -5}, "input.durationSeconds"),
    ({"durationSeconds": 86401}, "input.durationSeconds"),
    ({"startedAt": "2026-03-02T09:00:00"}, "input.startedAt"),
    ({"startedAt": "0001-01-01T00:00:00+05:00"}, "input.startedAt"),
    ({"startedAt": "9999-12-31T23:00:00-05:00"}, "input.startedAt"),
    ({"billable": None}, "input.billable"),
    ({"note": "x" * 10001}, "input.note"),
]


async def test_bad_time_entry_input_is_rejected(owner: Client, issue: dict[str, Any]) -> None:
    """Durations are 1 to 86,400 s and times carry an offset: else BAD_USER_INPUT naming the
    field, and nothing is written, not even the valid fields sent alongside."""
    entry = await log_time(owner, issue["id"], 60)
    for fields, field in BAD_TIME_INPUT:
        variables = {"issueId": issue["id"], "startedAt": STARTED, "durationSeconds": 60, **fields}
        error = await owner.error(TIME_ENTRY_CREATE, {"input": variables})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, fields
        changes = {"note": "changed", "billable": False, **fields}
        error = await owner.error(TIME_ENTRY_UPDATE, {"id": entry["id"], "input": changes})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, fields
    for field in ("startedAt", "durationSeconds"):
        error = await owner.error(TIME_ENTRY_UPDATE, {"id": entry["id"], "input": {field: None}})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": f"input.{field}"}
    assert await time_total(owner) == {"totalCount": 1, "totalSeconds": 60}
    assert await node(owner, entry["id"]) == {"__typename": "TimeEntry", **entry}


async def test_duration_limits_are_inclusive(owner: Client, issue: dict[str, Any]) -> None:
    """One second and a full day are both fine."""
    assert (await log_time(owner, issue["id"], 1))["durationSeconds"] == 1
    assert (await log_time(owner, issue["id"], 86400))["durationSeconds"] == 86400


async def test_time_on_unknown_issue_is_not_found(owner: Client, issue: dict[str, Any]) -> None:
    """Logging time on something that is not an issue of this workspace writes nothing."""
    for bad in (issue["project"]["id"], "garbage"):
        error = await owner.error(
            TIME_ENTRY_CREATE,
            {"input": {"issueId": bad, "startedAt": STARTED, "durationSeconds": 60}},
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await time_total(owner) == {"totalCount": 0, "totalSeconds": 0}


async def test_issue_time_totals(owner: Client, member: Client, issue: dict[str, Any]) -> None:
    """timeSpentSeconds and timeEntries.totalSeconds add up the issue's entries and no others."""
    other = await create_issue(owner, issue["project"]["id"])
    await log_time(owner, issue["id"], 100)
    await log_time(member, issue["id"], 25, billable=False)
    await log_time(owner, other["id"], 7)
    data = await owner.gql(ISSUE_TIME, {"id": issue["id"]})
    assert data["issue"]["timeSpentSeconds"] == 125
    entries = data["issue"]["timeEntries"]
    assert entries["totalCount"] == 2
    assert entries["totalSeconds"] == 125
    assert entries["nodes"] == [
        {"durationSeconds": 100, "account": {"name": "Owner"}},
        {"durationSeconds": 25, "account": {"name": "Mia"}},
    ]
    assert data["issue"]["firstOnly"] == {
        "totalCount": 2,
        "totalSeconds": 125,
        "nodes": [{"durationSeconds": 100}],
    }
    assert await time_total(owner) == {"totalCount": 3, "totalSeconds": 132}
