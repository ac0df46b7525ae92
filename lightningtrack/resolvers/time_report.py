"""Time spent per day and per week, in the workspace's timezone.

A day is a calendar day in the workspace's timezone (settings), so an entry started at
23:30 in Berlin counts for that day, not for the next one as UTC would have it, and days
around a DST change are 23 or 25 hours long. Weeks start on the workspace's week start.
An entry counts in full for the day it started on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from lightningtrack.errors import BadUserInput
from lightningtrack.models.integrations import Weekday
from lightningtrack.resolvers import time_entries, workspace_settings
from lightningtrack.resolvers.time_entries import TimeEntryFilter

MAX_DAYS = 366


@dataclass(frozen=True)
class Bucket:
    start: date  # the day, or the first day of the week
    total_seconds: int
    billable_seconds: int
    entries: int


def _range(start: date, end: date) -> None:
    if end < start:
        raise BadUserInput("to must not be before from.", field="to")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadUserInput(f"At most {MAX_DAYS} days at once.", field="to")


def week_start(day: date, first: Weekday) -> date:
    # date.weekday(): Monday is 0, Sunday is 6.
    offset = day.weekday() if first == Weekday.MONDAY else (day.weekday() + 1) % 7
    return day - timedelta(days=offset)


async def _totals(
    start: date, end: date, entry_filter: TimeEntryFilter | None
) -> tuple[dict[date, list[int]], workspace_settings.Current]:
    """Per local day from ``start`` to ``end`` (both included): total, billable, count."""
    _range(start, end)
    found = await workspace_settings.current()
    zone = found.zone
    lower = datetime.combine(start, time(0), zone).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    queryset = time_entries.filtered(entry_filter).filter(
        started_at__gte=lower, started_at__lt=upper
    )
    days: dict[date, list[int]] = {}
    for started_at, seconds, billable in await queryset.values_list(
        "started_at", "duration_seconds", "billable"
    ):
        day = started_at.astimezone(zone).date()
        bucket = days.setdefault(day, [0, 0, 0])
        bucket[0] += seconds
        bucket[1] += seconds if billable else 0
        bucket[2] += 1
    return days, found


async def by_day(start: date, end: date, entry_filter: TimeEntryFilter | None) -> list[Bucket]:
    """Every day of the range, also those with nothing logged."""
    days, _ = await _totals(start, end, entry_filter)
    result = []
    day = start
    while day <= end:
        total, billable, count = days.get(day, (0, 0, 0))
        result.append(Bucket(day, total, billable, count))
        day += timedelta(days=1)
    return result


async def by_week(start: date, end: date, entry_filter: TimeEntryFilter | None) -> list[Bucket]:
    """Every week touching the range, each from the workspace's week start; only the days
    inside the range count."""
    days, found = await _totals(start, end, entry_filter)
    weeks: dict[date, list[int]] = {}
    week = week_start(start, found.week_starts_on)
    while week <= end:
        weeks[week] = [0, 0, 0]
        week += timedelta(days=7)
    for day, (total, billable, count) in days.items():
        bucket = weeks[week_start(day, found.week_starts_on)]
        bucket[0] += total
        bucket[1] += billable
        bucket[2] += count
    return [Bucket(w, *values) for w, values in sorted(weeks.items())]
