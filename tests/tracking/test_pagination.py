"""Relay pagination with keyset cursors: page sizes, cursors, and paging while rows change."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime
from typing import Any

import pytest

from lightningtrack.models.workspace import PRIORITY_RANK, IssuePriority
from lightningtrack.resolvers import pagination
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client
from tests.tracking.conftest import (
    ISSUE_BY_KEY,
    ISSUE_DELETE,
    create_comment,
    create_issue,
    create_project,
    pk_of,
    seed_issues,
)

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $order: IssueOrder) {
  issues(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    nodes { id key number priority createdAt }
    edges { cursor node { key } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
PRIORITIES = ["URGENT", "HIGH", "MEDIUM", "LOW", "NONE"]


def cursor(values: Any) -> str:
    """A cursor as a client could forge one: base64url of any JSON."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def sort_value(node: dict[str, Any], field: str) -> Any:
    if field == "PRIORITY":
        return PRIORITY_RANK[IssuePriority(node["priority"])]
    if field == "NUMBER":
        return node["number"]
    return datetime.fromisoformat(node["createdAt"])


@pytest.fixture
async def web(owner: Client) -> dict[str, Any]:
    return await create_project(owner, "WEB")


async def seed(tenancy: Tenancy, owner: Client, project: dict[str, Any], count: int) -> list[str]:
    """``count`` issues whose priorities repeat, so that every priority has many ties."""
    specs = [
        {"title": f"Seeded {n}", "priority": PRIORITIES[n % len(PRIORITIES)]} for n in range(count)
    ]
    await seed_issues(tenancy, owner, project["id"], specs)
    return [f"WEB-{n}" for n in range(1, count + 1)]


async def page(client: Client, **variables: Any) -> dict[str, Any]:
    data = await client.gql(PAGE, variables)
    connection: dict[str, Any] = data["issues"]
    return connection


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize(
    "order",
    [
        None,
        {"field": "CREATED_AT", "direction": "DESC"},
        {"field": "PRIORITY", "direction": "ASC"},
        {"field": "PRIORITY", "direction": "DESC"},
        {"field": "NUMBER", "direction": "DESC"},
    ],
    ids=["default", "created-desc", "priority-asc", "priority-desc", "number-desc"],
)
async def test_paging_while_issues_are_inserted_and_deleted(
    tenancy: Tenancy,
    owner: Client,
    web: dict[str, Any],
    order: dict[str, str] | None,
    forward: bool,
) -> None:
    """Every issue that existed before and survives is seen exactly once, in order, however
    many rows are inserted (anywhere in the order) and deleted (seen or not) between pages."""
    existing = await seed(tenancy, owner, web, 250)
    rng = random.Random(f"{order}{forward}")
    alive = set(existing)
    deleted_unseen: set[str] = set()
    seen: list[dict[str, Any]] = []
    after_or_before: str | None = None
    pages = 0
    while True:
        if forward:
            connection = await page(owner, first=50, after=after_or_before, order=order)
        else:
            connection = await page(owner, last=50, before=after_or_before, order=order)
        nodes = connection["nodes"]
        assert len(nodes) <= 50
        assert [e["cursor"] for e in connection["edges"]][-1:] == (
            [connection["pageInfo"]["endCursor"]] if nodes else []
        )
        seen.extend(nodes if forward else reversed(nodes))
        pages += 1
        info = connection["pageInfo"]
        if not (info["hasNextPage"] if forward else info["hasPreviousPage"]):
            break
        after_or_before = info["endCursor"] if forward else info["startCursor"]

        seen_keys = {n["key"] for n in seen}
        for key in rng.sample(sorted(alive), 4):
            found = await owner.gql(ISSUE_BY_KEY, {"key": key})
            await owner.gql(ISSUE_DELETE, {"id": found["issue"]["id"]})
            alive.discard(key)
            if key not in seen_keys:
                deleted_unseen.add(key)
        for _ in range(3):
            await create_issue(owner, web["id"], "Late", priority=rng.choice(PRIORITIES))

    keys = [n["key"] for n in seen]
    assert pages >= 5
    assert len(keys) == len(set(keys)), "an issue was seen twice"
    assert alive <= set(keys), f"skipped: {sorted(alive - set(keys))}"
    assert not deleted_unseen & set(keys), "an issue deleted before its page was seen"

    field = order["field"] if order else "CREATED_AT"
    descending = bool(order and order["direction"] == "DESC")
    if not forward:
        seen.reverse()
    ranks = [(sort_value(n, field), pk_of(n["id"])) for n in seen]
    assert ranks == sorted(ranks, reverse=descending)


async def test_page_sizes(tenancy: Tenancy, owner: Client, web: dict[str, Any]) -> None:
    """first defaults to 50 and goes up to 100; totalCount counts every match, not the page."""
    await seed(tenancy, owner, web, 120)
    default = await page(owner)
    assert len(default["nodes"]) == 50
    assert default["totalCount"] == 120
    assert default["pageInfo"]["hasNextPage"] is True
    assert default["pageInfo"]["hasPreviousPage"] is False
    assert len((await page(owner, first=100))["nodes"]) == 100
    empty = await page(owner, first=0)
    assert empty["nodes"] == []
    assert empty["totalCount"] == 120
    assert empty["pageInfo"]["startCursor"] is None

    tail = await page(owner, last=30)
    assert [n["number"] for n in tail["nodes"]] == list(range(91, 121))
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["pageInfo"]["hasNextPage"] is False


async def test_page_size_out_of_range_is_bad_input(owner: Client) -> None:
    """More than 100 (or fewer than 0) rows a page is BAD_USER_INPUT naming the argument."""
    projects = (
        "query($first: Int, $last: Int) { projects(first: $first, last: $last) { totalCount } }"
    )
    cases = [({"first": 101}, "first"), ({"last": 101}, "last"), ({"first": -1}, "first")]
    for arguments, field in cases:
        for query in (PAGE, projects):
            error = await owner.error(query, arguments)
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, arguments


async def test_first_101_on_nested_connections_is_bad_input(
    owner: Client, web: dict[str, Any]
) -> None:
    """The same limit holds for an issue's comments and time entries."""
    await create_issue(owner, web["id"])
    for connection in ("comments", "timeEntries"):
        query = f"{{ issues {{ nodes {{ {connection}(first: 101) {{ totalCount }} }} }} }}"
        error = await owner.error(query)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


GARBAGE = [
    "garbage",
    "!!!",
    "A" * 600,
    cursor({"id": 1}),
    cursor([]),
    cursor("2026-01-01T00:00:00+00:00"),
    cursor([1.5]),
    cursor([True]),
    cursor([None, 1]),
    cursor(["not a date", 1]),
    cursor(["2026-01-01T00:00:00", 1]),
    cursor(["0001-01-01T00:00:00+05:00", 1]),
    cursor(["9999-12-31T23:59:59-05:00", 1]),
    cursor(["2026-01-01T00:00:00+00:00", 10**20]),
    cursor(["2026-01-01T00:00:00+00:00", "1"]),
    cursor([3, 1]),
]


OUT_OF_RANGE = [
    ("PRIORITY", cursor([70000, 1])),
    ("PRIORITY", cursor([1, 2**70])),
    ("PRIORITY", cursor(["2026-01-01T00:00:00+00:00", 1])),
    ("NUMBER", cursor([2**40, 1])),
    ("NUMBER", cursor([1])),
    ("UPDATED_AT", cursor([1, 1])),
]
ID_ORDERED = ["garbage", cursor([10**20]), cursor([-(2**64)]), cursor(["x"]), cursor([1, 1])]


async def test_garbage_cursor_is_bad_input(owner: Client, web: dict[str, Any]) -> None:
    """A cursor the server did not hand out is BAD_USER_INPUT on after or before, never a 500."""
    await create_issue(owner, web["id"])
    for bad in GARBAGE:
        for argument in ("after", "before"):
            size = "first" if argument == "after" else "last"
            error = await owner.error(PAGE, {size: 5, argument: bad})
            expected = {"code": "BAD_USER_INPUT", "field": argument}
            assert error["extensions"] == expected, f"{argument}: {bad}"


async def test_cursor_out_of_range_for_the_order_is_bad_input(
    owner: Client, web: dict[str, Any]
) -> None:
    """A cursor whose values cannot come from the sort column is rejected, not sent to SQL."""
    await create_issue(owner, web["id"])
    for field, bad in OUT_OF_RANGE:
        order = {"field": field, "direction": "ASC"}
        error = await owner.error(PAGE, {"first": 5, "after": bad, "order": order})
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, field


async def test_garbage_cursor_on_id_ordered_connections_is_bad_input(
    owner: Client, web: dict[str, Any]
) -> None:
    """Projects and an issue's comments page by id; their cursors are checked the same way."""
    issue = await create_issue(owner, web["id"])
    await create_comment(owner, issue["id"])
    for bad in ID_ORDERED:
        error = await owner.error(
            "query($a: String) { projects(after: $a) { nodes { id } } }", {"a": bad}
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, bad
        error = await owner.error(
            "query($a: String) { issues { nodes { comments(after: $a) { nodes { id } } } } }",
            {"a": bad},
        )
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}, bad


async def test_cursor_of_a_deleted_row_still_pages_on(
    tenancy: Tenancy, owner: Client, web: dict[str, Any]
) -> None:
    """Deleting the very row a cursor points at neither ends nor repeats the walk."""
    await seed(tenancy, owner, web, 10)
    first = await page(owner, first=4)
    last_seen = first["nodes"][-1]
    await owner.gql(ISSUE_DELETE, {"id": last_seen["id"]})
    rest = await page(owner, first=10, after=first["pageInfo"]["endCursor"])
    assert [n["number"] for n in rest["nodes"]] == list(range(5, 11))
    assert rest["pageInfo"]["hasPreviousPage"] is True
    back = await page(owner, last=10, before=rest["pageInfo"]["startCursor"])
    assert [n["number"] for n in back["nodes"]] == [1, 2, 3]


async def test_cursors_keep_their_form(
    tenancy: Tenancy, owner: Client, web: dict[str, Any]
) -> None:
    """A cursor is base64url, unpadded, of the compact JSON array of the row's sort value
    and id: cursors that clients hold stay valid across releases."""
    await seed(tenancy, owner, web, 3)
    created = await page(owner, first=3)
    for node, edge in zip(created["nodes"], created["edges"], strict=True):
        moment = datetime.fromisoformat(node["createdAt"]).isoformat()
        assert edge["cursor"] == cursor_compact([moment, pk_of(node["id"])])
    by_number = await page(owner, first=3, order={"field": "NUMBER", "direction": "DESC"})
    for node, edge in zip(by_number["nodes"], by_number["edges"], strict=True):
        assert edge["cursor"] == cursor_compact([node["number"], pk_of(node["id"])])


def cursor_compact(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_cursors_are_encoded_only_where_read(
    tenancy: Tenancy, owner: Client, web: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's cursors are made when read: a page of nodes encodes none (the root list's
    plan) or only its two ends (a resolver's connection, for pageInfo), not one per row;
    edges encode theirs, each the same row's cursor."""
    await seed(tenancy, owner, web, 7)
    encoded: list[list[Any]] = []
    real = pagination.encode_cursor

    def counting(values: Any) -> str:
        encoded.append(list(values))
        return real(values)

    monkeypatch.setattr(pagination, "encode_cursor", counting)
    await owner.gql("{ issues(first: 5) { nodes { key } } }")
    assert encoded == []
    nested = "query($id: ID!) { project(id: $id) { issues(first: 5) { nodes { key } } } }"
    await owner.gql(nested, {"id": web["id"]})
    assert len(encoded) == 2
    encoded.clear()
    ends = await owner.gql("{ issues(first: 5) { pageInfo { startCursor endCursor } } }")
    assert len(encoded) == 2
    encoded.clear()
    page = await owner.gql(PAGE, {"first": 5})
    cursors = [edge["cursor"] for edge in page["issues"]["edges"]]
    assert len(cursors) == 5 == len(set(cursors))
    info = page["issues"]["pageInfo"]
    assert (info["startCursor"], info["endCursor"]) == (cursors[0], cursors[-1])
    assert (info["startCursor"], info["endCursor"]) == (
        ends["issues"]["pageInfo"]["startCursor"],
        ends["issues"]["pageInfo"]["endCursor"],
    )
    assert len(encoded) == 5 + 2
