"""Issue filters and orders, and time entry filters with totals, against hand-made answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from lightningtrack.models.workspace import Issue
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.tracking.conftest import (
    account_id,
    create_issue,
    create_project,
    log_time,
    pk_of,
    workspace_of,
)

ISSUES = """
query($filter: IssueFilter, $order: IssueOrder, $first: Int, $after: String) {
  issues(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount nodes { key } pageInfo { hasNextPage endCursor }
  }
}
"""
TIME_ENTRIES = """
query($filter: TimeEntryFilter, $first: Int) {
  timeEntries(filter: $filter, first: $first) { totalCount totalSeconds nodes { note } }
}
"""


def day(n: int) -> datetime:
    return datetime(2026, 1, n, 10, tzinfo=UTC)


@dataclass
class Tracker:
    owner: Client
    member: str
    owner_account: str
    web: str
    api: str
    ids: dict[str, str]

    async def keys(self, filter: dict[str, Any] | None = None, **variables: Any) -> list[str]:
        data = await self.owner.gql(ISSUES, {"filter": filter, **variables})
        return [n["key"] for n in data["issues"]["nodes"]]


@pytest.fixture
async def tracker(tenancy: Tenancy, owner: Client, member: Client) -> Tracker:
    """Six issues in two projects (ids in this order), with set timestamps:

    key    status       priority  assignee  labels    created  updated  title / description
    WEB-1  TODO         HIGH      member    bug, ui   Jan 1    Jan 5    Login button broken / Users cannot sign in
    WEB-2  BACKLOG      LOW       -         ui        Jan 2    Jan 2    Add dark mode / -
    WEB-3  IN_PROGRESS  URGENT    owner     bug       Jan 2    Jan 6    Crash on LOGIN page / stack trace attached
    API-1  DONE         HIGH      member    -         Jan 3    Jan 4    Rate limits / The login endpoint needs limits
    API-2  CANCELLED    NONE      -         docs      Jan 4    Jan 4    Docs / -
    API-3  TODO         MEDIUM    owner     bug       Jan 5    Jan 7    Pagination / 100% cursor based
    """  # noqa: E501
    mia, own = await account_id(member), await account_id(owner)
    web = (await create_project(owner, "WEB"))["id"]
    api = (await create_project(owner, "API"))["id"]
    rows = [
        (web, "Login button broken", "Users cannot sign in", "TODO", "HIGH", mia, ["bug", "ui"]),
        (web, "Add dark mode", None, "BACKLOG", "LOW", None, ["ui"]),
        (web, "Crash on LOGIN page", "stack trace attached", "IN_PROGRESS", "URGENT", own, ["bug"]),
        (api, "Rate limits", "The login endpoint needs limits", "DONE", "HIGH", mia, []),
        (api, "Docs", None, "CANCELLED", "NONE", None, ["docs"]),
        (api, "Pagination", "100% cursor based", "TODO", "MEDIUM", own, ["bug"]),
    ]
    ids: dict[str, str] = {}
    for project, title, description, status, priority, assignee, labels in rows:
        issue = await create_issue(
            owner,
            project,
            title,
            description=description,
            status=status,
            priority=priority,
            assigneeId=assignee,
            labels=labels,
        )
        ids[issue["key"]] = issue["id"]
    times = {
        "WEB-1": (1, 5),
        "WEB-2": (2, 2),
        "WEB-3": (2, 6),
        "API-1": (3, 4),
        "API-2": (4, 4),
        "API-3": (5, 7),
    }
    async with tenancy.workspace(await workspace_of(owner)):
        for key, (created, updated) in times.items():
            await Issue.filter(id=pk_of(ids[key])).update(
                created_at=day(created), updated_at=day(updated)
            )
    return Tracker(owner, mia, own, web, api, ids)


ALL = ["WEB-1", "WEB-2", "WEB-3", "API-1", "API-2", "API-3"]


async def test_timestamps_are_as_seeded(tracker: Tracker) -> None:
    """The fixture's dates are what the API reports (the rest of this file relies on them)."""
    data = await tracker.owner.gql("{ issues { nodes { key createdAt updatedAt } } }")
    created = {n["key"]: datetime.fromisoformat(n["createdAt"]) for n in data["issues"]["nodes"]}
    updated = {n["key"]: datetime.fromisoformat(n["updatedAt"]) for n in data["issues"]["nodes"]}
    assert created["WEB-3"] == day(2)
    assert updated["API-3"] == day(7)


async def test_issue_filters(tracker: Tracker) -> None:
    """Each filter alone, and some together, select exactly the hand-picked issues."""
    t = tracker
    cases: list[tuple[dict[str, Any] | None, list[str]]] = [
        (None, ALL),
        ({}, ALL),
        ({"projectId": t.web}, ["WEB-1", "WEB-2", "WEB-3"]),
        ({"projectId": t.api}, ["API-1", "API-2", "API-3"]),
        ({"status": ["TODO"]}, ["WEB-1", "API-3"]),
        ({"status": ["DONE", "CANCELLED"]}, ["API-1", "API-2"]),
        ({"status": []}, []),
        ({"priority": ["HIGH"]}, ["WEB-1", "API-1"]),
        ({"priority": ["URGENT", "NONE"]}, ["WEB-3", "API-2"]),
        ({"assigneeId": t.member}, ["WEB-1", "API-1"]),
        ({"assigneeId": t.owner_account}, ["WEB-3", "API-3"]),
        ({"label": "bug"}, ["WEB-1", "WEB-3", "API-3"]),
        ({"label": "ui"}, ["WEB-1", "WEB-2"]),
        ({"label": "docs"}, ["API-2"]),
        ({"label": "nope"}, []),
        ({"search": "login"}, ["WEB-1", "WEB-3", "API-1"]),
        ({"search": "LOGIN"}, ["WEB-1", "WEB-3", "API-1"]),
        ({"search": "SIGN IN"}, ["WEB-1"]),
        ({"search": "Stack Trace"}, ["WEB-3"]),
        ({"search": "100%"}, ["API-3"]),
        ({"search": "%"}, ["API-3"]),
        ({"search": "_"}, []),
        ({"search": "nothing like it"}, []),
        ({"createdAfter": "2026-01-02T10:00:00Z"}, ["API-1", "API-2", "API-3"]),
        ({"createdAfter": "2026-01-02T12:00:00+02:00"}, ["API-1", "API-2", "API-3"]),
        ({"createdAfter": "2026-01-02T09:59:59Z"}, ["WEB-2", "WEB-3", "API-1", "API-2", "API-3"]),
        ({"createdAfter": "2026-02-01T00:00:00Z"}, []),
        ({"updatedAfter": "2026-01-04T10:00:00Z"}, ["WEB-1", "WEB-3", "API-3"]),
        ({"updatedAfter": "2026-01-04T05:00:00-05:00"}, ["WEB-1", "WEB-3", "API-3"]),
        ({"updatedAfter": "2026-01-01T00:00:00Z"}, ALL),
        ({"status": ["TODO"], "label": "bug"}, ["WEB-1", "API-3"]),
        ({"projectId": t.api, "search": "login"}, ["API-1"]),
        ({"priority": ["HIGH"], "assigneeId": t.member, "projectId": t.web}, ["WEB-1"]),
        ({"label": "bug", "createdAfter": "2026-01-01T10:00:00Z"}, ["WEB-3", "API-3"]),
    ]
    for filter, expected in cases:
        assert await t.keys(filter) == expected, filter


async def test_filtered_total_count_counts_matches(tracker: Tracker) -> None:
    """totalCount is the number of matching issues over all pages, whatever the page size."""
    data = await tracker.owner.gql(ISSUES, {"filter": {"label": "bug"}, "first": 1})
    assert data["issues"]["totalCount"] == 3
    assert len(data["issues"]["nodes"]) == 1


async def test_dates_without_offset_are_bad_input(tracker: Tracker) -> None:
    """A date and time without a UTC offset is ambiguous (and one out of range once in UTC
    is unusable): BAD_USER_INPUT naming the filter field."""
    for field in ("createdAfter", "updatedAfter"):
        for value in ("2026-01-02T10:00:00", "0001-01-01T00:00:00+05:00"):
            error = await tracker.owner.error(ISSUES, {"filter": {field: value}})
            expected = {"code": "BAD_USER_INPUT", "field": f"filter.{field}"}
            assert error["extensions"] == expected, value


ORDERS = {
    ("CREATED_AT", "ASC"): ["WEB-1", "WEB-2", "WEB-3", "API-1", "API-2", "API-3"],
    ("CREATED_AT", "DESC"): ["API-3", "API-2", "API-1", "WEB-3", "WEB-2", "WEB-1"],
    ("UPDATED_AT", "ASC"): ["WEB-2", "API-1", "API-2", "WEB-1", "WEB-3", "API-3"],
    ("UPDATED_AT", "DESC"): ["API-3", "WEB-3", "WEB-1", "API-2", "API-1", "WEB-2"],
    ("PRIORITY", "ASC"): ["WEB-3", "WEB-1", "API-1", "API-3", "WEB-2", "API-2"],
    ("PRIORITY", "DESC"): ["API-2", "WEB-2", "API-3", "API-1", "WEB-1", "WEB-3"],
    ("NUMBER", "ASC"): ["WEB-1", "API-1", "WEB-2", "API-2", "WEB-3", "API-3"],
    ("NUMBER", "DESC"): ["API-3", "WEB-3", "API-2", "WEB-2", "API-1", "WEB-1"],
}


async def test_issue_orders(tracker: Tracker) -> None:
    """Every order field in both directions, ties broken by creation; the default is
    CREATED_AT ascending. Paging two at a time gives the same sequence, ties split by pages."""
    assert await tracker.keys() == ORDERS[("CREATED_AT", "ASC")]
    for (field, direction), expected in ORDERS.items():
        order = {"field": field, "direction": direction}
        assert await tracker.keys(order=order) == expected, order
        paged: list[str] = []
        after = None
        while True:
            data = await tracker.owner.gql(ISSUES, {"order": order, "first": 2, "after": after})
            paged.extend(n["key"] for n in data["issues"]["nodes"])
            if not data["issues"]["pageInfo"]["hasNextPage"]:
                break
            after = data["issues"]["pageInfo"]["endCursor"]
        assert paged == expected, order


async def test_filters_and_orders_inside_a_project(tracker: Tracker) -> None:
    """Project.issues takes the same filter and order, within its project."""
    data = await tracker.owner.gql(
        """query($id: ID) {
          project(id: $id) {
            issues(filter: { label: "bug" }, orderBy: { field: PRIORITY, direction: ASC }) {
              totalCount nodes { key }
            }
          }
        }""",
        {"id": tracker.web},
    )
    issues = data["project"]["issues"]
    assert [n["key"] for n in issues["nodes"]] == ["WEB-3", "WEB-1"]
    assert issues["totalCount"] == 2


@pytest.fixture
async def timesheet(owner: Client, member: Client) -> dict[str, str]:
    """Five entries: who, what, when, how long, billable.

    E1  WEB-1  owner   Feb 1 09:00  3600  yes
    E2  WEB-1  member  Feb 2 09:00  1800  no
    E3  WEB-2  member  Feb 3 09:00   600  yes
    E4  API-1  owner   Feb 4 09:00   120  no
    E5  API-1  member  Feb 5 09:00    60  yes
    """
    web = (await create_project(owner, "WEB"))["id"]
    api = (await create_project(owner, "API"))["id"]
    web1 = (await create_issue(owner, web))["id"]
    web2 = (await create_issue(owner, web))["id"]
    api1 = (await create_issue(owner, api))["id"]
    entries = [
        (owner, web1, 1, 3600, True),
        (member, web1, 2, 1800, False),
        (member, web2, 3, 600, True),
        (owner, api1, 4, 120, False),
        (member, api1, 5, 60, True),
    ]
    for n, (who, issue, date, seconds, billable) in enumerate(entries, start=1):
        started = f"2026-02-0{date}T09:00:00Z"
        await log_time(who, issue, seconds, started, billable=billable, note=f"E{n}")
    return {
        "web": web,
        "api": api,
        "web1": web1,
        "owner": await account_id(owner),
        "member": await account_id(member),
    }


async def test_time_entry_filters_and_totals(owner: Client, timesheet: dict[str, str]) -> None:
    """Each TimeEntryFilter field selects the hand-picked entries; totalSeconds sums them."""
    t = timesheet
    cases: list[tuple[dict[str, Any] | None, list[str], int]] = [
        (None, ["E1", "E2", "E3", "E4", "E5"], 6180),
        ({"issueId": t["web1"]}, ["E1", "E2"], 5400),
        ({"projectId": t["web"]}, ["E1", "E2", "E3"], 6000),
        ({"projectId": t["api"]}, ["E4", "E5"], 180),
        ({"accountId": t["member"]}, ["E2", "E3", "E5"], 2460),
        ({"accountId": t["owner"]}, ["E1", "E4"], 3720),
        ({"from": "2026-02-02T09:00:00Z"}, ["E2", "E3", "E4", "E5"], 2580),
        ({"from": "2026-02-02T10:00:00+01:00"}, ["E2", "E3", "E4", "E5"], 2580),
        ({"to": "2026-02-04T09:00:00Z"}, ["E1", "E2", "E3"], 6000),
        ({"from": "2026-02-02T09:00:00Z", "to": "2026-02-04T09:00:00Z"}, ["E2", "E3"], 2400),
        ({"billable": True}, ["E1", "E3", "E5"], 4260),
        ({"billable": False}, ["E2", "E4"], 1920),
        ({"accountId": t["member"], "billable": True}, ["E3", "E5"], 660),
        ({"projectId": t["web"], "accountId": t["owner"]}, ["E1"], 3600),
        ({"from": "2026-03-01T00:00:00Z"}, [], 0),
    ]
    for filter, notes, seconds in cases:
        data = await owner.gql(TIME_ENTRIES, {"filter": filter})
        entries = data["timeEntries"]
        assert [e["note"] for e in entries["nodes"]] == notes, filter
        assert entries["totalCount"] == len(notes), filter
        assert entries["totalSeconds"] == seconds, filter


async def test_total_seconds_covers_every_page(owner: Client, timesheet: dict[str, str]) -> None:
    """totalSeconds is over all matching entries, not the page asked for; the pages, by
    start time, hold every entry once."""
    data = await owner.gql(TIME_ENTRIES, {"filter": {"projectId": timesheet["web"]}, "first": 1})
    assert data["timeEntries"] == {"totalCount": 3, "totalSeconds": 6000, "nodes": [{"note": "E1"}]}
    notes: list[str] = []
    after = None
    while True:
        data = await owner.gql(
            """query($after: String) {
              timeEntries(first: 2, after: $after) {
                totalSeconds nodes { note } pageInfo { hasNextPage endCursor }
              }
            }""",
            {"after": after},
        )
        assert data["timeEntries"]["totalSeconds"] == 6180
        notes += [n["note"] for n in data["timeEntries"]["nodes"]]
        if not data["timeEntries"]["pageInfo"]["hasNextPage"]:
            break
        after = data["timeEntries"]["pageInfo"]["endCursor"]
    assert notes == ["E1", "E2", "E3", "E4", "E5"]


async def test_time_filter_dates_need_an_offset(owner: Client, timesheet: dict[str, str]) -> None:
    """from and to without a UTC offset are BAD_USER_INPUT naming filter.from or filter.to."""
    for field in ("from", "to"):
        for value in ("2026-02-02T09:00:00", "9999-12-31T23:00:00-05:00"):
            error = await owner.error(TIME_ENTRIES, {"filter": {field: value}})
            expected = {"code": "BAD_USER_INPUT", "field": f"filter.{field}"}
            assert error["extensions"] == expected, value
