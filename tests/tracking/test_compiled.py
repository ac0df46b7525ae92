"""Compiled selection sets against field-by-field execution, byte for byte.

The oracle is the executor itself: every document is answered three ways (compiled
selection sets, plain fields read directly, every field through graphql-core's
execute_field) and the JSON bodies must be identical, errors and their paths included.
Documents are drawn with Hypothesis from the read surface of a page of issues: any subset
of the issue's, its project's and its people's fields, aliases, inline fragments and named
fragment spreads, ``__typename``, ``@include``/``@skip`` with variables, nodes and edges,
page info and counts. Hypothesis runs derandomized, so every run sends the same documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.differential import MODES, use_mode
from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.models.workspace import Issue, TimeEntry
from lightningtrack.schema import build_schema
from lightningtrack.schema.execution import COMPILER, FieldByFieldExecution, FieldByFieldOnly
from lightningtrack.schema.planned import PLANNERS
from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import Client, signed_up, statements, with_workspace
from tests.tracking.conftest import (
    create_comment,
    create_issue,
    create_project,
    log_time,
    workspace_of,
)

ACCOUNT = ["id", "name", "email", "emailVerified", "createdAt", "deletionScheduledAt"]
ACCOUNT += ["__typename"]
PROJECT = ["id", "key", "name", "description", "archived", "createdAt", "updatedAt"]
PROJECT += ["__typename"]
ISSUE = [
    "id",
    "key",
    "number",
    "title",
    "description",
    "status",
    "priority",
    "estimateSeconds",
    "createdAt",
    "updatedAt",
    "labels",
    "timeSpentSeconds",
    "__typename",
]
NESTED = {
    "project": PROJECT,
    "assignee": ACCOUNT,
    "creator": ACCOUNT,
    "comments": ["totalCount", "__typename"],
    "firstComment: comments(first: 1)": ["totalCount"],
}
DIRECTIVES = ["", "", "", " @include(if: $yes)", " @skip(if: $no)", " @include(if: $no)"]
# Arguments of the root list: pages either way (from the cursor of the list's first row
# in the same order and filter, or none), filters, orders.
PAGES = ["first: 1", "first: 2", "first: 50", "first: 0", "last: 2", "first: 1, after: $cursor"]
PAGES += ["last: 1, before: $cursor", "after: $cursor"]
FILTERS = ["", "filter: {status: [TODO]}", 'filter: {status: [BACKLOG, TODO], label: "bug"}']
FILTERS += ['filter: {search: "IR"}', "filter: {priority: [NONE, HIGH]}"]
FILTERS += ['filter: {createdAfter: "2020-01-01T00:00:00Z", label: "ops"}']
ORDERS = ["", "orderBy: {field: PRIORITY, direction: DESC}"]
ORDERS += [
    "orderBy: {field: NUMBER, direction: ASC}",
    "orderBy: {field: UPDATED_AT, direction: DESC}",
]
ARGUMENTS = re.compile(r"issues\(([^)]*)\)")
ALIAS = re.compile(r"\w\d+: |firstComment: ")
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


@pytest.fixture
def modes() -> Iterator[None]:
    yield
    FieldByFieldExecution.read_plain_fields_directly = True
    FieldByFieldExecution.compile_selection_sets = True


@st.composite
def selection(draw: st.DrawFn, names: list[str], nested: dict[str, list[str]]) -> str:
    """Some of ``names`` (and of the nested objects), each maybe aliased or directed."""
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names)))
    parts = []
    for index, name in enumerate(chosen):
        alias = f"{name}{index}: " if draw(st.booleans()) and name != "__typename" else ""
        parts.append(f"{alias}{name}{draw(st.sampled_from(DIRECTIVES))}")
    for name, fields in nested.items():
        if draw(st.booleans()):
            inner = draw(selection(fields, {}))
            parts.append(f"{name}{draw(st.sampled_from(DIRECTIVES))} {{ {inner} }}")
    return " ".join(parts)


@st.composite
def documents(draw: st.DrawFn) -> str:
    issue = draw(selection(ISSUE, NESTED))
    fragment = ""
    wrap = draw(st.sampled_from(["plain", "inline", "named"]))
    if wrap == "inline":
        issue = f"... on Issue{draw(st.sampled_from(DIRECTIVES))} {{ {issue} }}"
    elif wrap == "named":
        extra = draw(selection(ISSUE, {}))
        fragment = f" fragment F on Issue {{ {issue} }}"
        issue = f"{extra} ...F"
    parts = []
    if draw(st.booleans()):
        parts.append(f"nodes {{ {issue} }}")
    if draw(st.booleans()) or not parts:
        parts.append(f"edges {{ cursor node {{ {issue} }} }}")
    if draw(st.booleans()):
        parts.append(PAGE_INFO)
    if draw(st.booleans()):
        parts.append("totalCount")
    # Within the alias limit (aliases are the numbered names and firstComment), counted
    # as the server counts them: a fragment's once per spread.
    body = " ".join(parts)
    aliases = len(ALIAS.findall(body)) + len(ALIAS.findall(fragment)) * body.count("...F")
    assume(aliases <= 15)
    arguments = ", ".join(
        part
        for part in (
            draw(st.sampled_from(PAGES)),
            draw(st.sampled_from(FILTERS)),
            draw(st.sampled_from(ORDERS)),
        )
        if part
    )
    cursor = ", $cursor: String" if "$cursor" in arguments else ""
    return (
        f"query($yes: Boolean!, $no: Boolean!{cursor}) {{"
        " __typename @include(if: $yes) @skip(if: $no)"
        f" issues({arguments}) {{ {body} }} }}{fragment}"
    )


async def seed(owner: Client) -> None:
    project = await create_project(owner)
    me = (await owner.gql("{ viewer { id } }"))["viewer"]["id"]
    first = await create_issue(owner, project["id"], "First", labels=["bug", "ui"], assigneeId=me)
    await create_issue(owner, project["id"], "Second", description="Words")
    await create_issue(owner, project["id"], "Third", labels=["ops"])
    await create_comment(owner, first["id"], "Hello")
    await create_comment(owner, first["id"], "Again")
    await log_time(owner, first["id"], 900)


async def answers(
    owner: Client, document: str, given: dict[str, object] | None = None
) -> list[str]:
    """The JSON bodies of ``document`` in every mode, with ``given`` variables (else $yes,
    $no and, where the document takes it, $cursor)."""
    if given is not None:
        return await _every_way(owner, document, given)
    variables: dict[str, object] = {"yes": True, "no": False}
    if "$cursor" in document:
        # The cursor of the first row the document's order and filter list.
        found = ARGUMENTS.search(document)
        assert found is not None
        kept = [
            a
            for a in found.group(1).split(", ")
            if not a.startswith(("first", "last", "after", "before"))
        ]
        inner = ", ".join(["first: 1", *kept])
        edges = (await owner.gql(f"{{ issues({inner}) {{ edges {{ cursor }} }} }}"))["issues"]
        variables["cursor"] = edges["edges"][0]["cursor"] if edges["edges"] else None
    return await _every_way(owner, document, variables)


async def _every_way(owner: Client, document: str, variables: dict[str, object]) -> list[str]:
    found = []
    for mode in MODES:
        use_mode(mode)
        found.append(json.dumps(await owner.post(document, variables)))
    return found


@settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents())
async def test_generated_documents_answer_alike_every_way(
    modes: None, seeded: Client, document: str
) -> None:
    planner = PLANNERS["Query", "issues"][0]
    answered, gave_up = planner.answered, planner.gave_up
    compiled, direct, slow = await answers(seeded, document)
    assert compiled == direct == slow, document
    assert "errors" not in json.loads(compiled), compiled
    # A plan that gave up would hide its own mistakes behind the resolver's answer.
    assert planner.gave_up == gave_up, document
    # Every selection drawn has a plan, but maybe those with comments' arguments (if
    # their directives keep them).
    if "firstComment" not in document:
        assert planner.answered == answered + 1, document


@pytest.fixture
async def seeded(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> AsyncIterator[Client]:
    """An owner with seeded issues, on an app whose rate limit stays out of the way (each
    document is sent three times, a few hundred requests in seconds)."""
    roomy = replace(settings, rate_limit_per_minute=10**6, rate_limit_burst=10**6)
    app = create_app(roomy, tenancy, jobs)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:
        owner = await signed_up(lambda: Client(http), "Owner")
        await with_workspace(owner)
        await seed(owner)
        yield owner


async def test_the_dashboard_is_built_by_the_compiled_path(modes: None, seeded: Client) -> None:
    """Not field by field: the connection of issues is built whole, without falling back."""
    document = (
        "{ issues(first: 50, filter: {status: [TODO, IN_PROGRESS]}) { nodes { key title"
        " project { key name } assignee { name } labels timeSpentSeconds"
        " comments { totalCount } } } }"
    )
    built, unfit = COMPILER.built, COMPILER.unfit
    compiled, direct, slow = await answers(seeded, document)
    assert compiled == direct == slow
    # The first mode built the connection (and nothing went back field by field).
    assert COMPILER.built == built + 1
    assert COMPILER.unfit == unfit


async def test_the_dashboard_is_answered_by_its_plan(modes: None, seeded: Client) -> None:
    """The root list of issues goes neither through its resolver nor field by field: its
    plan answers it from the rows, and alike."""
    planner = PLANNERS["Query", "issues"][0]
    document = (
        "query($yes: Boolean!) { issues(first: 50, filter: {status: [BACKLOG, TODO]}) {"
        " totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id key"
        " title status createdAt project { id key name } assignee @include(if: $yes)"
        " { id name } creator { name } labels timeSpentSeconds comments { totalCount } } } } }"
    )
    answered, gave_up = planner.answered, planner.gave_up
    compiled, direct, slow = await answers(seeded, document)
    assert compiled == direct == slow
    assert planner.answered == answered + 1
    assert planner.gave_up == gave_up
    assert json.loads(compiled)["data"]["issues"]["totalCount"] == 3


async def test_plans_give_up_for_the_resolver_and_answer_alike(modes: None, seeded: Client) -> None:
    """A request its plan does not answer as the resolver would (a refused argument, a
    cursor that does not decode) goes to the resolver, errors and all; a selection a plan
    cannot answer has none."""
    planner = PLANNERS["Query", "issues"][0]
    gave_up = planner.gave_up
    for document in (
        "{ issues(first: 2, last: 2) { nodes { key } } }",
        '{ issues(first: 2, after: "not a cursor") { nodes { key } } }',
    ):
        compiled, direct, slow = await answers(seeded, document)
        assert compiled == direct == slow, document
        assert json.loads(compiled)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert planner.gave_up == gave_up + 2
    answered = planner.answered
    document = "{ issues(first: 3) { nodes { key project { timeSpentSeconds } } } }"
    compiled, direct, slow = await answers(seeded, document)
    assert compiled == direct == slow
    assert planner.answered == answered


async def test_a_null_directive_variable_answers_alike(modes: None, seeded: Client) -> None:
    """A nullable variable with a default, sent as null, in ``@include(if:)``: an error
    only where graphql-core collects that selection (at a row), and no rows none at all;
    planning and compiling collect every level at once, so they must not report it."""
    document = (
        "query($f: Boolean = true) { issues(first: FIRST) { totalCount"
        " nodes { id @include(if: $f) project { key @skip(if: $f) } } } }"
    )
    for first in (0, 2):
        found = await answers(seeded, document.replace("FIRST", str(first)), {"f": None})
        assert found[0] == found[1] == found[2], first
        body = json.loads(found[0])
        if first == 0:
            assert body == {"data": {"issues": {"totalCount": 3, "nodes": []}}}
        else:
            assert body["data"] is None
            error = body["errors"][0]
            assert error["path"] == ["issues", "nodes", 0], body
            assert error["extensions"] == {"code": "BAD_USER_INPUT"}, body
            assert "'$f'" in error["message"]


async def test_the_dashboards_statements_do_not_grow_with_the_page(
    modes: None, seeded: Client
) -> None:
    document = (
        "{ issues(first: SIZE) { nodes { key title project { key name } assignee { name }"
        " labels timeSpentSeconds comments { totalCount } } } }"
    )
    counts = []
    for size in (1, 3, 100):
        with statements() as sent:
            body = await seeded.post(document.replace("SIZE", str(size)))
        assert len(body["data"]["issues"]["nodes"]) == min(size, 3)
        counts.append(len(sent))
    assert counts[0] == counts[1] == counts[2], counts


async def test_unsupported_selections_fall_back_and_answer_alike(
    modes: None, seeded: Client
) -> None:
    """Fields with resolvers (timeEntries, comment rows), interfaces (node) and errors are
    answered field by field, and alike."""
    issue = (await seeded.gql("{ issues(first: 1) { nodes { id key } } }"))["issues"]["nodes"][0]
    documents = [
        "{ issues(first: 3) { nodes { key"
        " timeEntries(first: 2) { nodes { durationSeconds } } } } }",
        "{ issues(first: 3) { nodes { key"
        " comments(first: 2) { nodes { body author { name } } } } } }",
        '{ node(id: "ID") { __typename id ... on Issue { key labels } } }'.replace(
            "ID", issue["id"]
        ),
        "{ issues(first: 1000) { nodes { key } } }",
        '{ issues(first: 2, after: "not a cursor") { nodes { key } } }',
    ]
    for document in documents:
        compiled, direct, slow = await answers(seeded, document)
        assert compiled == direct == slow, document


async def test_both_paths_refuse_another_workspace_alike(
    modes: None, seeded: Client, other_workspace: Client
) -> None:
    """An id of another workspace's issue is not found, compiled or not."""
    theirs = await create_project(other_workspace)
    issue = await create_issue(other_workspace, theirs["id"], "Theirs")
    document = '{ node(id: "ID") { id ... on Issue { key } } }'.replace("ID", issue["id"])
    found = await answers(seeded, document)
    assert found[0] == found[1] == found[2]
    assert json.loads(found[0])["data"]["node"] is None
    listed = await answers(seeded, "{ issues(first: 50) { nodes { title } } }")
    assert listed[0] == listed[1] == listed[2]
    assert "Theirs" not in listed[0]


async def test_the_setting_turns_compiled_execution_off(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner, seeded: Client
) -> None:
    off = replace(settings, compiled_execution=False)
    assert build_schema(compiled=False).execution_context_class is FieldByFieldOnly
    app = create_app(off, tenancy, jobs)
    document = "{ issues(first: 5) { nodes { key title project { key } } } }"
    expected = await seeded.post(document)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:
        client = Client(http, seeded.workspace, dict(seeded.headers))
        client.http.cookies = seeded.http.cookies
        built = COMPILER.built
        assert await client.post(document) == expected
        assert COMPILER.built == built


REQUEST_ID = re.compile(r'"requestId": "[0-9a-f]+"')


async def test_an_int_beyond_32_bits_answers_alike(
    modes: None, seeded: Client, tenancy: Tenancy
) -> None:
    """A number beyond what GraphQL's Int can carry (time spent, a sum): not answered as
    it is; the plan gives up for the resolver, whose answer is graphql-core's error."""
    async with tenancy.workspace(await workspace_of(seeded)):
        first = await Issue.all().order_by("id").first()
        assert first is not None
        # Each entry within 32 bits (the column's own range), their sum beyond.
        for _ in range(2):
            await TimeEntry.create(
                issue_id=first.id, started_at=clock.now(), duration_seconds=2**31 - 1
            )
    planner = PLANNERS["Query", "issues"][0]
    gave_up = planner.gave_up
    found = await answers(seeded, "{ issues(first: 3) { nodes { key timeSpentSeconds } } }")
    # A value the schema cannot serve is the server's fault: each answer names its request.
    compiled, direct, slow = (REQUEST_ID.sub('"requestId": ""', body) for body in found)
    assert compiled == direct == slow
    body = json.loads(compiled)
    assert body["errors"][0]["path"] == ["issues", "nodes", 0, "timeSpentSeconds"], body
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert body["data"] is None  # timeSpentSeconds: Int!, in a list of Issue!, in issues: ...!
    assert planner.gave_up == gave_up + 1  # the plan left it to the resolver
