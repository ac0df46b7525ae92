"""Time per day and week in the workspace's timezone: midnight, DST, week starts."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client
from tests.tracking.conftest import create_issue, create_project, log_time

UPDATE = "mutation($input: SettingsUpdateInput!) { settingsUpdate(input: $input) { timezone } }"
BY_DAY = """
query($from: Date!, $to: Date!, $filter: TimeEntryFilter) {
  timeSpentByDay(from: $from, to: $to, filter: $filter) {
    start totalSeconds billableSeconds entryCount
  }
}
"""
BY_WEEK = """
query($from: Date!, $to: Date!) {
  timeSpentByWeek(from: $from, to: $to) { start totalSeconds entryCount }
}
"""


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["start"]: row["totalSeconds"] for row in rows}


async def test_days_split_at_local_midnight(owner: Client) -> None:
    issue = await create_issue(owner, (await create_project(owner))["id"])
    # 23:59:59 and 00:00:00 in Berlin (UTC+1 in March, before the DST change).
    await log_time(owner, issue["id"], 60, "2026-03-02T22:59:59Z")
    await log_time(owner, issue["id"], 120, "2026-03-02T23:00:00Z", billable=False)
    in_utc = await owner.gql(BY_DAY, {"from": "2026-03-02", "to": "2026-03-03"})
    assert totals(in_utc["timeSpentByDay"]) == {"2026-03-02": 180, "2026-03-03": 0}
    await owner.gql(UPDATE, {"input": {"timezone": "Europe/Berlin"}})
    local = (await owner.gql(BY_DAY, {"from": "2026-03-02", "to": "2026-03-03"}))["timeSpentByDay"]
    assert local == [
        {"start": "2026-03-02", "totalSeconds": 60, "billableSeconds": 60, "entryCount": 1},
        {"start": "2026-03-03", "totalSeconds": 120, "billableSeconds": 0, "entryCount": 1},
    ]


async def test_days_around_the_dst_change(owner: Client) -> None:
    issue = await create_issue(owner, (await create_project(owner))["id"])
    await owner.gql(UPDATE, {"input": {"timezone": "Europe/Berlin"}})
    # Clocks go from 02:00 to 03:00 on 2026-03-29: that day has 23 hours.
    await log_time(owner, issue["id"], 10, "2026-03-28T22:59:00Z")  # 23:59 CET, the 28th
    await log_time(owner, issue["id"], 20, "2026-03-28T23:00:00Z")  # 00:00 CET, the 29th
    await log_time(owner, issue["id"], 40, "2026-03-29T21:59:00Z")  # 23:59 CEST, the 29th
    await log_time(owner, issue["id"], 80, "2026-03-29T22:00:00Z")  # 00:00 CEST, the 30th
    data = await owner.gql(BY_DAY, {"from": "2026-03-28", "to": "2026-03-30"})
    assert totals(data["timeSpentByDay"]) == {"2026-03-28": 10, "2026-03-29": 60, "2026-03-30": 80}
    # The autumn change: 2026-10-25 has 25 hours.
    await log_time(owner, issue["id"], 160, "2026-10-24T22:00:00Z")  # 00:00 CEST, the 25th
    await log_time(owner, issue["id"], 320, "2026-10-25T22:59:00Z")  # 23:59 CET, the 25th
    await log_time(owner, issue["id"], 640, "2026-10-25T23:00:00Z")  # 00:00 CET, the 26th
    data = await owner.gql(BY_DAY, {"from": "2026-10-24", "to": "2026-10-26"})
    assert totals(data["timeSpentByDay"]) == {"2026-10-24": 0, "2026-10-25": 480, "2026-10-26": 640}


async def test_weeks_start_on_the_workspace_week_start(owner: Client) -> None:
    issue = await create_issue(owner, (await create_project(owner))["id"])
    await owner.gql(UPDATE, {"input": {"timezone": "America/New_York"}})
    # Sunday 2026-03-01, 20:00 in New York (01:00 on Monday in UTC).
    await log_time(owner, issue["id"], 300, "2026-03-02T01:00:00Z")
    await log_time(owner, issue["id"], 100, "2026-03-03T15:00:00Z")  # Tuesday
    weeks = await owner.gql(BY_WEEK, {"from": "2026-02-23", "to": "2026-03-08"})
    assert totals(weeks["timeSpentByWeek"]) == {"2026-02-23": 300, "2026-03-02": 100}
    await owner.gql("mutation { settingsUpdate(input: {weekStartsOn: SUNDAY}) { weekStartsOn } }")
    weeks = await owner.gql(BY_WEEK, {"from": "2026-02-23", "to": "2026-03-08"})
    assert totals(weeks["timeSpentByWeek"]) == {
        "2026-02-22": 0,
        "2026-03-01": 400,
        "2026-03-08": 0,
    }


async def test_filters_ranges_and_isolation(owner: Client, other_workspace: Client) -> None:
    first = await create_issue(owner, (await create_project(owner))["id"])
    second = await create_issue(owner, (await create_project(owner))["id"])
    await log_time(owner, first["id"], 100, "2026-04-01T10:00:00Z")
    await log_time(owner, second["id"], 200, "2026-04-01T11:00:00Z")
    theirs = await create_issue(other_workspace, (await create_project(other_workspace))["id"])
    await log_time(other_workspace, theirs["id"], 999, "2026-04-01T10:00:00Z")
    data = await owner.gql(
        BY_DAY, {"from": "2026-04-01", "to": "2026-04-01", "filter": {"issueId": first["id"]}}
    )
    assert totals(data["timeSpentByDay"]) == {"2026-04-01": 100}
    data = await owner.gql(BY_DAY, {"from": "2026-04-01", "to": "2026-04-01"})
    assert totals(data["timeSpentByDay"]) == {"2026-04-01": 300}
    error = await owner.error(
        BY_DAY, {"from": "2026-04-01", "to": "2026-04-01", "filter": {"issueId": theirs["id"]}}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    error = await owner.error(BY_DAY, {"from": "2026-04-02", "to": "2026-04-01"})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}
    error = await owner.error(BY_DAY, {"from": "2025-01-01", "to": "2026-04-01"})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}
