"""Random requests over the schema: whatever arrives, the server answers with a client error
or a result, never a 5xx, an unexpected error, a stack trace or SQL.

Documents are drawn from the running schema: random root fields (queries and the mutations
that are safe to run at random), random arguments of the right or the wrong type, random
selections, variables, garbage text, deep nesting and mangled documents. Hypothesis runs
derandomized, so that every run (and CI) sends the same requests.
"""

from __future__ import annotations

import json
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.schema import build_schema
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, WORKSPACE_CREATE, environment_for, unique

SCHEMA: GraphQLSchema = build_schema()._schema
# Mutations that would change who the client is (signUp, signIn, signOut), cost a database
# each (workspaceCreate), or reach beyond this machine (webhooks, mailboxes, billing).
UNSAFE_MUTATIONS = frozenset(
    {
        "signUp",
        "signIn",
        "signOut",
        "accountDelete",
        "workspaceCreate",
        "workspaceDelete",
        "checkoutSessionCreate",
        "billingPortalSessionCreate",
        "webhookCreate",
        "webhookUpdate",
        "webhookDeliveryRetry",
        "emailSourceCreate",
        "emailSourceUpdate",
        "emailSourcePoll",
    }
)
FORBIDDEN_IN_BODY = ("Traceback", 'File "', "SELECT ", "INSERT ", "asyncpg", "sqlite3")
ALLOWED_STATUS = frozenset({200, 400, 413, 415})
NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\U0001f600",
    "\u202e",
    "'; DROP TABLE account; --",
    '" OR 1=1 --',
    "%s%s%n",
    "\\",
    "${7*7}",
    "../../etc/passwd",
    "WEB-1",
    "WEB-" + "9" * 30,
    "UHJvamVjdDp4",  # "Project:x"
    "QWNjb3VudDp4",  # "Account:x"
    "SXNzdWU6MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAuMQ",
    "2026-13-45T25:61:61+99:99",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "-1",
    "1e309",
    "NaN",
]
# Longer than any column: built on demand, so that failure reports stay short.
LONG = st.integers(41, 3000).map(lambda n: "X" * n) | st.integers(11, 400).map(
    lambda n: "A" * n + "-1"
)
nasty = st.sampled_from(NASTY_STRINGS) | LONG
NAME = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=12)


def root_fields() -> list[tuple[str, str, GraphQLField]]:
    """(operation, field name, field) for every root field the fuzzer may call."""
    found = []
    assert SCHEMA.query_type is not None and SCHEMA.mutation_type is not None
    for name, root in SCHEMA.query_type.fields.items():
        found.append(("query", name, root))
    for name, root in SCHEMA.mutation_type.fields.items():
        if name not in UNSAFE_MUTATIONS:
            found.append(("mutation", name, root))
    return found


ROOTS = root_fields()


@dataclass
class Document:
    """A document being drawn: its variable definitions and their values. A sloppy one
    also gets values of the wrong type, missing arguments and unknown names; a tidy one
    passes validation, so that its strange values reach the resolvers."""

    sloppy: bool
    definitions: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


class Bare(str):
    """An enum value: written without quotes in a document, as a string in JSON."""


def literal(value: Any) -> str:
    """``value`` written as a GraphQL literal."""
    if isinstance(value, Bare):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


# Ids and keys of real rows of the fuzzed workspace, filled in by the fixture, so that
# some arguments name something that exists.
KNOWN: list[str] = []
known = st.integers(0, 99).map(lambda i: KNOWN[i % len(KNOWN)] if KNOWN else "")

any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | nasty,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def scalar(draw: st.DrawFn, kind: GraphQLScalarType, doc: Document) -> Any:
    name = kind.name
    if name == "Int":
        edges = [-1, 0, 100, 101, 2**31 - 1, -(2**31)]
        if doc.sloppy:
            edges += [2**31, -(2**31) - 1, 10**12]
        return draw(st.integers(0, 100) | st.integers(-5, 10**6) | st.sampled_from(edges))
    if name == "Float":
        return draw(st.floats(allow_nan=False, allow_infinity=False))
    if name == "Boolean":
        return draw(st.booleans())
    if name == "DateTime":
        return draw(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | nasty)
    if name == "ID":
        return draw(known | st.text(max_size=30) | nasty)
    return draw(st.text(max_size=30) | nasty | known)


@st.composite
def input_value(
    draw: st.DrawFn, kind: GraphQLInputType, doc: Document, depth: int = 0, nullable: bool = True
) -> Any:
    """A value for ``kind``: of its shape in a tidy document, maybe not in a sloppy one."""
    if doc.sloppy and draw(st.integers(0, 4)) == 0:
        return draw(any_json)
    if isinstance(kind, GraphQLNonNull):
        return draw(input_value(kind.of_type, doc, depth, nullable=False))
    if (nullable or doc.sloppy) and draw(st.integers(0, 9)) == 0:
        return None
    if isinstance(kind, GraphQLList):
        if depth > 3:
            return []
        return draw(st.lists(input_value(kind.of_type, doc, depth + 1), max_size=3))
    if isinstance(kind, GraphQLEnumType):
        values = st.sampled_from(sorted(kind.values))
        return Bare(draw(values | NAME if doc.sloppy else values))
    if isinstance(kind, GraphQLInputObjectType):
        value = {}
        for name, input_field in kind.fields.items():
            if isinstance(input_field.type, GraphQLNonNull) or draw(st.booleans()):
                value[name] = draw(input_value(input_field.type, doc, depth + 1))
        if doc.sloppy and draw(st.integers(0, 4)) == 0:
            value[draw(NAME)] = draw(any_json)
        return value
    assert isinstance(kind, GraphQLScalarType)
    return draw(scalar(kind, doc))


def as_json(value: Any) -> Any:
    """A drawn value as the JSON of a variable (enum values become strings)."""
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, Bare):
        return str(value)
    return value


@st.composite
def arguments(draw: st.DrawFn, of: GraphQLField, doc: Document) -> str:
    written = []
    for name, argument in of.args.items():
        required = isinstance(argument.type, GraphQLNonNull)
        if not required and not draw(st.booleans()):
            continue
        if required and doc.sloppy and draw(st.integers(0, 4)) == 0:
            continue  # a missing required argument
        value = draw(input_value(argument.type, doc))
        if draw(st.booleans()):
            variable = f"v{len(doc.definitions)}"
            declared = str(argument.type)
            if doc.sloppy and draw(st.integers(0, 4)) == 0:
                declared = "String"
            doc.definitions.append(f"${variable}: {declared}")
            doc.variables[variable] = as_json(value)
            written.append(f"{name}: ${variable}")
        else:
            written.append(f"{name}: {literal(value)}")
    if doc.sloppy and draw(st.integers(0, 4)) == 0:
        written.append(f"{draw(NAME)}: {literal(draw(any_json))}")
    return f"({', '.join(written)})" if written else ""


@st.composite
def selection(draw: st.DrawFn, kind: GraphQLOutputType, doc: Document, depth: int) -> str:
    named = get_named_type(kind)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if depth <= 0 or isinstance(named, GraphQLUnionType):
        return "{ __typename }"
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    names = sorted(named.fields)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    parts = []
    for name in chosen:
        sub = named.fields[name]
        args = draw(arguments(sub, doc))
        parts.append(f"{name}{args} {draw(selection(sub.type, doc, depth - 1))}".rstrip())
    if isinstance(named, GraphQLInterfaceType):
        possibles = sorted(t.name for t in SCHEMA.get_possible_types(named))
        for possible in draw(st.lists(st.sampled_from(possibles), max_size=2, unique=True)):
            inline = draw(selection(SCHEMA.get_type(possible), doc, depth - 1))  # type: ignore[arg-type]
            parts.append(f"... on {possible} {inline}")
    if doc.sloppy and draw(st.integers(0, 9)) == 0:
        parts.append(draw(NAME))  # a field that does not exist
    return "{ " + " ".join(parts) + " }"


@st.composite
def schema_request(draw: st.DrawFn) -> dict[str, Any]:
    """One operation of one to three root fields, all of the same kind."""
    doc = Document(sloppy=draw(st.integers(0, 3)) == 0)
    operation = draw(st.sampled_from(["query", "mutation"]))
    candidates = [r for r in ROOTS if r[0] == operation]
    picked = draw(
        st.lists(st.sampled_from(range(len(candidates))), min_size=1, max_size=3, unique=True)
    )
    parts = []
    for index in picked:
        _, name, root = candidates[index]
        args = draw(arguments(root, doc))
        parts.append(f"{name}{args} {draw(selection(root.type, doc, draw(st.integers(0, 5))))}")
    head = operation + (f"({', '.join(doc.definitions)})" if doc.definitions else "")
    return {"query": f"{head} {{ {' '.join(parts)} }}", "variables": doc.variables}


@st.composite
def mangled_request(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-looking request with a few characters cut, doubled or replaced."""
    request = draw(schema_request())
    text: str = request["query"]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(0, len(text) - 1)))
        how = draw(st.sampled_from(["cut", "double", "replace"]))
        if how == "cut":
            text = text[:at] + text[at + 1 :]
        elif how == "double":
            text = text[:at] + text[at : at + 1] * 2 + text[at + 1 :]
        else:
            text = text[:at] + draw(st.sampled_from(list('{}()[]:$!@."\\#,'))) + text[at + 1 :]
    return {**request, "query": text}


def nested(depth: int, opener: str, closer: str, middle: str = "") -> str:
    return opener * depth + middle + closer * depth


deep_request = st.builds(
    lambda depth, shape: {
        "query": {
            "braces": nested(depth, "{", "}", "id"),
            "fields": "{ " + nested(depth, "viewer { ", " }", "id"),
            "lists": "{ node(id: " + nested(depth, "[", "]") + ") { id } }",
            "objects": "{ issues(filter: "
            + nested(depth, "{search: ", "}", '"x"')
            + ") { totalCount } }",
            "unclosed": "{ viewer {" * depth,
        }[shape]
    },
    st.integers(1, 1500),
    st.sampled_from(["braces", "fields", "lists", "objects", "unclosed"]),
)

garbage_request = st.one_of(
    st.builds(lambda text: {"query": text}, st.text(max_size=200)),
    st.builds(lambda value: {"query": value}, any_json),
    st.builds(lambda req, variables: {**req, "variables": variables}, schema_request(), any_json),
    st.builds(lambda req, name: {**req, "operationName": name}, schema_request(), any_json),
    st.builds(
        lambda req, extensions: {**req, "extensions": extensions}, schema_request(), any_json
    ),
    st.builds(lambda value: {"raw": value}, st.binary(max_size=200)),
    st.builds(lambda value: {"raw": json.dumps(value).encode()}, any_json),
    st.builds(
        lambda depth: {
            "raw": (
                '{"query": "{ viewer { id } }", "variables": {"a": '
                + "[" * depth
                + "]" * depth
                + "}}"
            ).encode()
        },
        st.integers(1, 100_000),
    ),
)

requests = st.one_of(
    schema_request(),
    schema_request(),
    schema_request(),
    mangled_request(),
    deep_request,
    garbage_request,
)


@pytest.fixture
async def fuzz_http(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in, workspace-bound client of an app whose rate limit stays out of the way
    (a few hundred requests in seconds would otherwise be answered RATE_LIMITED)."""
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    fuzz_settings = load_settings(
        {**env, "LT_RATE_LIMIT_PER_MINUTE": "1000000", "LT_RATE_LIMIT_BURST": "1000000"}
    )
    app = create_app(fuzz_settings, tenancy, jobs)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as http:
        address = f"{unique('fuzz')}@example.com"
        variables = {"input": {"name": "Fuzz", "email": address, "password": "correct horse"}}
        signed = await http.post("/graphql", json={"query": SIGN_UP, "variables": variables})
        assert not signed.json().get("errors"), signed.text
        slug = unique("fuzz")
        created = await http.post(
            "/graphql",
            json={"query": WORKSPACE_CREATE, "variables": {"input": {"name": "F", "slug": slug}}},
        )
        assert not created.json().get("errors"), created.text
        http.headers["X-Workspace"] = slug
        KNOWN[:] = await seed(http, slug)
        yield http
    KNOWN.clear()
    await jobs.drain()


SEED = """
mutation($project: ProjectCreateInput!) {
  projectCreate(input: $project) { project { id key } }
  apiKeyCreate(input: {name: "fuzz", scopes: [READ]}) { apiKey { id prefix } }
}
"""
SEED_ISSUE = """
mutation($issue: IssueCreateInput!) { issueCreate(input: $issue) { issue { id key } } }
"""
SEED_WORK = """
mutation($comment: CommentCreateInput!, $entry: TimeEntryCreateInput!) {
  commentCreate(input: $comment) { comment { id } }
  timeEntryCreate(input: $entry) { timeEntry { id } }
}
"""


async def seed(http: httpx.AsyncClient, slug: str) -> list[str]:
    """A project, an issue with a comment and a time entry, and a key: their ids and keys."""

    async def data(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        found: dict[str, Any] = body["data"]
        return found

    made = await data(SEED, {"project": {"key": "FUZZ", "name": "Fuzz"}})
    project = made["projectCreate"]["project"]
    issue = (await data(SEED_ISSUE, {"issue": {"projectId": project["id"], "title": "T"}}))[
        "issueCreate"
    ]["issue"]
    work = await data(
        SEED_WORK,
        {
            "comment": {"issueId": issue["id"], "body": "B"},
            "entry": {
                "issueId": issue["id"],
                "startedAt": "2026-03-02T09:00:00+00:00",
                "durationSeconds": 60,
            },
        },
    )
    viewer = await data("{ viewer { id } workspace { id } }", {})
    return [
        project["id"],
        project["key"],
        issue["id"],
        issue["key"],
        work["commentCreate"]["comment"]["id"],
        work["timeEntryCreate"]["timeEntry"]["id"],
        made["apiKeyCreate"]["apiKey"]["id"],
        made["apiKeyCreate"]["apiKey"]["prefix"],
        viewer["viewer"]["id"],
        viewer["workspace"]["id"],
        slug,
    ]


def check(request: dict[str, Any], response: httpx.Response) -> None:
    sent = json.dumps(request, default=repr)
    assert response.status_code in ALLOWED_STATUS, (request, response.status_code, response.text)
    for marker in FORBIDDEN_IN_BODY:
        if marker not in sent:
            assert marker not in response.text, (request, response.text)
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors or []:
            code = (error.get("extensions") or {}).get("code")
            assert code != "INTERNAL_SERVER_ERROR", (request, error)
            assert code is not None, (request, error)


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests)
# Requests that once crashed the server, kept as fixed examples.
@example(request={"raw": b"null"})  # JSON that is not an object
@example(request={"raw": b"[1]"})
@example(request={"raw": b'"query"'})
@example(
    request={
        "raw": b'{"query": "{ viewer { id } }", "variables": {"a": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}}"
    }
)
@example(
    request={"query": 'mutation { accountUpdate(input: {name: "a\\u0000b"}) { account { id } } }'}
)
@example(
    request={
        "query": "query($s: String) { issues(filter: {search: $s}) { totalCount } }",
        "variables": {"s": "\x00"},
    }
)
@example(request={"query": 'mutation { passwordResetRequest(email: "a\\u0000@example.com") }'})
@example(request={"query": '{ issue(key: "A\\u0000-1") { id } }'})
@example(request={"query": '{ project(key: "%s") { id } }' % ("X" * 300)})
@example(request={"query": '{ issue(key: "%s-1") { id } }' % ("X" * 300)})
@example(request={"query": '{ issues(filter: {label: "%s"}) { totalCount } }' % ("x" * 51)})
@example(
    request={
        "query": 'mutation { projectCreate(input: {key: "NEST", name: "N"}) '
        "{ project { issues(first: 101) { totalCount } } } }"
    }
)
async def test_random_requests_never_fail_the_server(
    fuzz_http: httpx.AsyncClient, request: dict[str, Any]
) -> None:
    """Anything a client can send must end in a client error or a result, never a crash."""
    if "raw" in request:
        content: bytes = request["raw"]
    else:
        content = json.dumps(request).encode()
    response = await fuzz_http.post(
        "/graphql", content=content, headers={"Content-Type": "application/json"}
    )
    check(request, response)


async def test_an_overlong_workspace_header_is_not_found(fuzz_http: httpx.AsyncClient) -> None:
    """A slug longer than any slug is simply no workspace (it once ended in a 500)."""
    for slug in ("x" * 41, "x" * 5000):
        response = await fuzz_http.post(
            "/graphql", json={"query": "{ workspace { slug } }"}, headers={"X-Workspace": slug}
        )
        assert response.status_code == 200, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_nul_characters_are_bad_input_where_the_fuzzer_does_not_go(make_client: Any) -> None:
    """Sign-up and sign-in change who the fuzzing client is; NUL there is refused plainly
    (PostgreSQL cannot store or even compare it: it once ended in unexpected errors)."""
    client = make_client()
    good = {"name": "Nul", "email": f"{unique('nul')}@example.com", "password": "correct horse"}
    for wrong, value in (("name", "a\x00b"), ("email", "a\x00b@example.com")):
        body = await client.post(SIGN_UP, {"input": {**good, wrong: value}})
        assert body["errors"][0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": f"input.{wrong}",
        }, body
    sign_in = "mutation($i: SignInInput!) { signIn(input: $i) { account { id } } }"
    body = await client.post(sign_in, {"i": {"email": "a\x00@example.com", "password": "x"}})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
