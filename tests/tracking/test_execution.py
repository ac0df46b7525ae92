"""Plain fields read directly answer exactly what graphql-core's execute_field answers.

The executor reads plain fields (no resolver) without building a resolve info or calling
Strawberry's resolver wrapper. Each document here runs both ways, with the direct path
on and off, and the two responses must be equal after JSON encoding, errors and their
paths included: on a toy schema built to hit every corner (nulls where they are not
allowed, values of the wrong type, awaitable values, errors below a plain object or
list), and through the API on a seeded workspace.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry

from lightningtrack.schema.execution import COMPILER, FieldByFieldExecution
from tests.conftest import Client
from tests.tracking.conftest import create_comment, create_issue, create_project, log_time


@pytest.fixture
def direct_switch() -> Iterator[None]:
    yield
    FieldByFieldExecution.read_plain_fields_directly = True
    FieldByFieldExecution.compile_selection_sets = True


# The executor's three ways: compiled selection sets (with direct reads where a
# selection does not compile), direct reads only, every field through execute_field.
MODES = ((True, True), (True, False), (False, False))


def use_mode(mode: tuple[bool, bool]) -> None:
    (
        FieldByFieldExecution.read_plain_fields_directly,
        FieldByFieldExecution.compile_selection_sets,
    ) = mode


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):
    name: str
    size: int | None

    @strawberry.field
    def fails(self) -> str:
        raise ValueError(f"{self.name} failed")

    @strawberry.field
    def fails_nullable(self) -> str | None:
        raise ValueError(f"{self.name} failed nullably")

    @strawberry.field
    async def later(self) -> str:
        return self.name.upper()


@strawberry.type
class Other:
    name: str


class _Soon:
    """A value that arrives later, awaitable any number of times (as each case runs twice)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self._value().__await__()

    async def _value(self) -> Any:
        return self.value


@strawberry.type
class Box:
    # Plain fields, their values set per case below (Any: the toy returns wrong values).
    name: Any = strawberry.field(graphql_type=str)
    maybe_name: Any = strawberry.field(graphql_type=str | None)
    count: Any = strawberry.field(graphql_type=int)
    colour: Any = strawberry.field(graphql_type=Colour | None)
    tags: Any = strawberry.field(graphql_type=list[str])
    loose_tags: Any = strawberry.field(graphql_type=list[str | None] | None)
    leaf: Any = strawberry.field(graphql_type=Leaf | None)
    strict_leaf: Any = strawberry.field(graphql_type=Leaf)
    leaves: Any = strawberry.field(graphql_type=list[Leaf] | None)
    loose_leaves: Any = strawberry.field(graphql_type=list[Leaf | None])


def _box(**values: Any) -> Box:
    defaults: dict[str, Any] = {
        "name": "box",
        "maybe_name": None,
        "count": 3,
        "colour": Colour.RED,
        "tags": ["a", "b"],
        "loose_tags": ["a", None],
        "leaf": Leaf(name="one", size=1),
        "strict_leaf": Leaf(name="two", size=None),
        "leaves": [Leaf(name="x", size=1), Leaf(name="y", size=2)],
        "loose_leaves": [None, Leaf(name="z", size=3)],
    }
    defaults.update(values)
    return Box(**defaults)


CASES: dict[str, Box] = {
    "plain": _box(),
    "null name": _box(name=None),
    "int for a string": _box(name=7),
    "string for an int": _box(count="seven"),
    "too big an int": _box(count=2**40),
    "not a colour": _box(colour="GREEN"),
    "null tag": _box(tags=["a", None]),
    "tags not a list": _box(tags=5),
    "awaitable name": _box(name=_Soon("later")),
    "exception as a value": _box(name=ValueError("an exception value")),
    "wrong object": _box(leaf=Other(name="other")),
    # An exception with the attribute asked for: still the field's error.
    "exception as an object": _box(leaf=NameError("an exception object", name="boom")),
    "null strict leaf": _box(strict_leaf=None),
    "null in leaves": _box(leaves=[Leaf(name="x", size=1), None]),
    "awaitable leaf": _box(leaf=_Soon(Leaf(name="soon", size=9))),
    "empty lists": _box(tags=[], leaves=[], loose_leaves=[]),
    "tuple lists": _box(tags=("t",), leaves=(Leaf(name="t", size=0),)),
}


@strawberry.type
class ToyQuery:
    @strawberry.field
    def box(self, case: str) -> Box:
        return CASES[case]


TOY = strawberry.Schema(query=ToyQuery, execution_context_class=FieldByFieldExecution)

TOY_DOCUMENTS = [
    "query($c: String!) { box(case: $c) { name maybeName count colour tags looseTags } }",
    "query($c: String!) { box(case: $c) { leaf { name size later } strictLeaf { name } } }",
    "query($c: String!) { box(case: $c) { leaves { name fails } } }",
    "query($c: String!) { box(case: $c) { looseLeaves { name failsNullable later } } }",
    "query($c: String!) { box(case: $c) { strictLeaf { fails } name } }",
    "query($c: String!) { box(case: $c) { leaf { fails } } }",
    "query($c: String!) { box(case: $c) { a: name b: name leaf { ... on Leaf { size } } } }",
    "query($c: String!) { box(case: $c) { ...F leaf { __typename name } } }"
    " fragment F on Box { tags leaves { size } }",
    "query($c: String!, $y: Boolean!) { box(case: $c) { name @include(if: $y) count } }",
]


def _encoded(result: Any) -> str:
    errors = [error.formatted for error in result.errors or []]
    return json.dumps({"data": result.data, "errors": errors}, default=str)


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("document", TOY_DOCUMENTS)
async def test_toy_schema_answers_alike_every_way(
    direct_switch: None, document: str, case: str, flag: bool
) -> None:
    variables = {"c": case, "y": flag}
    answers = []
    for mode in MODES:
        use_mode(mode)
        answers.append(_encoded(await TOY.execute(document, variable_values=variables)))
    assert answers[0] == answers[1] == answers[2]


async def test_the_toy_hits_errors_and_values() -> None:
    """The corpus is worth comparing: it has answers with data and with errors."""
    clean = await TOY.execute(TOY_DOCUMENTS[0], variable_values={"c": "plain"})
    assert clean.errors is None
    assert clean.data == {
        "box": {
            "name": "box",
            "maybeName": None,
            "count": 3,
            "colour": "RED",
            "tags": ["a", "b"],
            "looseTags": ["a", None],
        }
    }
    broken = await TOY.execute(TOY_DOCUMENTS[2], variable_values={"c": "plain"})
    assert broken.data == {"box": {"leaves": None}}
    assert broken.errors is not None
    assert broken.errors[0].path == ["box", "leaves", 0, "fails"]


API_DOCUMENTS = [
    "{ issues(first: 10) { nodes { id key title status priority labels timeSpentSeconds"
    " estimateSeconds createdAt project { key name } assignee { name } creator { id }"
    " comments { totalCount } } pageInfo { hasNextPage endCursor } totalCount } }",
    "{ projects(first: 5) { nodes { key name archived issues(first: 3) { nodes { number"
    " title comments(first: 2) { nodes { body author { name } issue { key } } } } } } } }",
    "{ issues(first: 5, filter: {status: [TODO]}) { edges { cursor node { key"
    " timeEntries(first: 5) { nodes { durationSeconds note account { name } } } } } } }",
    "query($k: String!) { issue(key: $k) { ...I comments(last: 2) { edges { node { body } } } } }"
    " fragment I on Issue { key title description project { id } }",
    "{ workspace { slug viewerRole } viewer { name } members { role joinedAt"
    " account { id name } } }",
    "query($id: ID!) { node(id: $id) { __typename id ... on Issue { key labels"
    " assignee { name } } } }",
]


async def test_api_answers_alike_both_ways(direct_switch: None, owner: Client) -> None:
    project = await create_project(owner)
    me = (await owner.gql("{ viewer { id } }"))["viewer"]["id"]
    issue = await create_issue(owner, project["id"], "First", labels=["bug", "ui"], assigneeId=me)
    await create_issue(owner, project["id"], "Second")
    await create_comment(owner, issue["id"], "Hello")
    await create_comment(owner, issue["id"], "Again")
    await log_time(owner, issue["id"], 900)
    built = COMPILER.built
    for document in API_DOCUMENTS:
        answers = []
        for mode in MODES:
            use_mode(mode)
            body = await owner.post(document, {"k": issue["key"], "id": issue["id"]})
            answers.append(json.dumps(body))
        assert answers[0] == answers[1] == answers[2], document
        assert "errors" not in json.loads(answers[0]), answers[0]
    assert COMPILER.built > built


@pytest.fixture
def called(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the fields that reach execute_field, in order."""
    names: list[str] = []
    original = FieldByFieldExecution.execute_field

    def counting(self: Any, parent_type: Any, source: Any, fields: Any, *rest: Any) -> Any:
        names.append(fields[0].node.name.value)
        return original(self, parent_type, source, fields, *rest)

    monkeypatch.setattr(FieldByFieldExecution, "execute_field", counting)
    return names


async def test_plain_fields_skip_execute_field(direct_switch: None, called: list[str]) -> None:
    """The comparisons above compare two different paths: read directly, the plain
    fields of a box never reach execute_field; only the root field and resolvers do."""
    document = '{ box(case: "plain") { name count tags leaf { name later } leaves { size } } }'
    for direct in (True, False):
        FieldByFieldExecution.read_plain_fields_directly = direct
        called.clear()
        result = await TOY.execute(document)
        assert result.errors is None
        if direct:
            assert called == ["box", "later"]
        else:
            every = ["box", "name", "count", "tags", "leaf", "name", "later", "leaves"]
            assert sorted(called) == sorted([*every, "size", "size"])


async def test_prefetched_comment_counts_skip_the_resolver(
    direct_switch: None, owner: Client, called: list[str]
) -> None:
    """A list's comment counts are read from its rows: with arguments omitted, the
    comments field never reaches execute_field; with arguments it is resolved as always,
    and both answer the same."""
    project = await create_project(owner)
    issue = await create_issue(owner, project["id"], "Counted")
    await create_issue(owner, project["id"], "Quiet")
    await create_comment(owner, issue["id"], "One")
    await create_comment(owner, issue["id"], "Two")
    FieldByFieldExecution.read_plain_fields_directly = True
    plain = "{ issues(first: 10) { nodes { key comments { totalCount __typename } } } }"
    body = await owner.post(plain)
    counts = {n["key"]: n["comments"]["totalCount"] for n in body["data"]["issues"]["nodes"]}
    assert sorted(counts.values()) == [0, 2]
    assert "comments" not in called
    called.clear()
    argued = plain.replace("comments {", "comments(first: 5) {")
    assert await owner.post(argued) == body
    assert called.count("comments") == 2
