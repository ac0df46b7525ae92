"""Query limits (depth 12, aliases 15, tokens 2000, cost 10000, pages of at most 100):
each just under and just over its bound, also through fragments; refused before anything
runs; the cost on request; no batches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema
from graphql import DocumentNode

from lightningtrack.schema.limits import widest_selection
from tests.conftest import Client
from tests.integrators.conftest import project_key

COST_EXTENSION = {"cost": True}
PROJECT_COUNT = "{ projects(includeArchived: true) { totalCount } }"


def deep(levels: int) -> str:
    """A query exactly ``levels`` fields deep: project > issues > nodes > project > …"""
    path = ['project(key: "NOPE")']
    cycle = ["issues(first: 1)", "nodes", "project"]
    while len(path) < levels - 1:
        path.append(cycle[(len(path) - 1) % len(cycle)])
    leaf = "totalCount" if path[-1].startswith("issues") else "id"
    return "{ " + " { ".join(path) + " { " + leaf + " }" * len(path) + " }"


def deep_through_fragments(tail: str) -> str:
    """Three chained fragments of three levels each under ``project``, then ``tail``:
    depth 1 + 9 + the depth of ``tail``."""
    return (
        '{ project(key: "NOPE") { ...F1 } }\n'
        "fragment F1 on Project { issues(first: 1) { nodes { project { ...F2 } } } }\n"
        "fragment F2 on Project { issues(first: 1) { nodes { project { ...F3 } } } }\n"
        "fragment F3 on Project { issues(first: 1) { nodes { project { ...F4 } } } }\n"
        f"fragment F4 on Project {{ {tail} }}\n"
    )


# (field, its own tokens besides the braces, the selections nested in it): every node is
# one selection set to fill with ``__typename``.
Tree = list[tuple[str, int, "Tree"]]
_PAGE: Tree = [("nodes", 1, []), ("pageInfo", 1, []), ("edges", 1, [("node", 1, [])])]
TOKEN_TREE: Tree = [
    *((name, 1, []) for name in ("viewer", "workspace", "workspaces", "members")),
    *((name, 1, []) for name in ("invitations", "apiKeys", "dataExports")),
    *((name, 1, _PAGE) for name in ("projects", "issues", "timeEntries")),
    ('project(key: "X")', 6, [("issues", 1, [("nodes", 1, [])])]),
    ('issue(key: "X-1")', 6, [("comments", 1, [("nodes", 1, [])]), ("project", 1, [])]),
]


def _nodes(tree: Tree) -> int:
    return sum(1 + _nodes(children) for _, _, children in tree)


def _overhead(tree: Tree) -> int:
    return sum(head + 2 + _overhead(children) for _, head, children in tree)


def tokens(count: int) -> str:
    """A valid query of exactly ``count`` tokens (about 2000): ``__typename`` spread over
    many selection sets, each under the 100-selection bound (graphql-core's overlap check
    also gives up on many equal siblings in one set)."""
    fields = count - 2 - _overhead(TOKEN_TREE)
    slots = _nodes(TOKEN_TREE)
    sizes = iter([fields // slots + (1 if n < fields % slots else 0) for n in range(slots)])

    def render(tree: Tree) -> str:
        parts = []
        for name, _, children in tree:
            own = " ".join(["__typename"] * next(sizes))
            parts.append(f"{name} {{ {own} {render(children)} }}")
        return " ".join(parts)

    return "{ " + render(TOKEN_TREE) + " }"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{n}: viewer {{ id }}" for n in range(count)) + " }"


def costing(comments: int, extra_projects: int = 0) -> str:
    """Cost 100 * (1 + 1 + ``comments``), plus ``extra_projects``."""
    query = f"issues(first: 100) {{ nodes {{ comments(first: {comments}) {{ totalCount }} }} }}"
    if extra_projects:
        query += f" projects(first: {extra_projects}) {{ totalCount }}"
    return "{ " + query + " }"


async def send(client: Client, query: str, **body: Any) -> dict[str, Any]:
    sent = {"query": query, **body}
    headers = {"X-Workspace": client.workspace or ""}
    response = await client.http.post("/graphql", json=sent, headers=headers)
    assert response.status_code in (200, 400), response.text
    result: dict[str, Any] = response.json()
    return result


async def assert_allowed(client: Client, query: str) -> dict[str, Any]:
    body = await send(client, query)
    assert not body.get("errors"), body
    return body


async def assert_too_complex(client: Client, query: str) -> dict[str, Any]:
    body = await send(client, query)
    assert body.get("errors"), body
    assert body.get("data") is None, body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", body
    return error


async def projects_count(client: Client) -> int:
    count: int = (await client.gql(PROJECT_COUNT))["projects"]["totalCount"]
    return count


async def test_depth_bound(owner: Client) -> None:
    """Twelve levels are fine, thirteen are refused: deep nesting multiplies database work."""
    await assert_allowed(owner, deep(12))
    error = await assert_too_complex(owner, deep(13))
    assert "13" in error["message"]


async def test_depth_counts_through_fragments(owner: Client) -> None:
    """Fragments are expanded before measuring: hiding depth in them does not help."""
    await assert_allowed(owner, deep_through_fragments("issues(first: 1) { totalCount }"))
    await assert_too_complex(owner, deep_through_fragments("issues(first: 1) { nodes { id } }"))


async def test_alias_bound(owner: Client) -> None:
    """Fifteen aliases pass, sixteen do not: aliases repeat a field's work."""
    await assert_allowed(owner, aliased(15))
    await assert_too_complex(owner, aliased(16))


async def test_aliases_in_a_fragment_count_each_time_it_is_used(owner: Client) -> None:
    """One fragment of four aliases under three aliased fields is fifteen aliases: each use
    runs again. Spread three times into one selection, execution merges it: four."""
    fragment = "fragment A on Account { a: id b: name c: email d: createdAt }"
    three = "{ x: viewer { ...A } y: viewer { ...A } z: viewer { ...A } "
    await assert_allowed(owner, three + "}\n" + fragment)
    await assert_too_complex(owner, three + "w: viewer { id } }\n" + fragment)
    body = await send(owner, "{ viewer { ...A ...A ...A } }\n" + fragment)
    assert not body.get("errors") and set(body["data"]["viewer"]) == {"a", "b", "c", "d"}, body


async def test_token_bound(owner: Client) -> None:
    """2000 tokens parse; 2001 are refused before the parser goes further."""
    await assert_allowed(owner, tokens(2000))
    error = await assert_too_complex(owner, tokens(2001))
    assert "2000" in error["message"]


async def test_cost_bound(owner: Client) -> None:
    """A cost of exactly 10000 runs, 10001 is refused; the cost is what the client asked."""
    await assert_allowed(owner, costing(98))
    error = await assert_too_complex(owner, costing(98, extra_projects=1))
    assert error["extensions"]["cost"] == 10_001
    assert error["extensions"]["maxCost"] == 10_000


async def test_cost_counts_a_fragment_each_time(owner: Client) -> None:
    """A fragment of cost 5001 fits once, and is refused when it is spread twice."""
    fragment = (
        "fragment C on Project { issues(first: 100) { nodes { comments(first: 48) "
        "{ totalCount } } } }"
    )
    await assert_allowed(owner, '{ a: project(key: "A") { ...C } }\n' + fragment)
    error = await assert_too_complex(
        owner, '{ a: project(key: "A") { ...C } b: project(key: "B") { ...C } }\n' + fragment
    )
    assert error["extensions"]["cost"] == 2 * 5001


async def test_cost_is_reported_when_asked(owner: Client) -> None:
    """Integrators budget their queries: extensions.cost tells them what one costs."""
    body = await send(owner, costing(98), extensions=COST_EXTENSION)
    assert not body.get("errors"), body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10_000
    small = await send(owner, "{ projects(first: 7) { totalCount } }", extensions=COST_EXTENSION)
    assert small["extensions"]["cost"]["requestedQueryCost"] == 7
    plain = await send(owner, "{ projects(first: 7) { totalCount } }")
    assert "cost" not in (plain.get("extensions") or {})


async def test_page_size_bound(owner: Client) -> None:
    """first is at most 100 on every connection; 101 is a bad argument, named."""
    for field in ("projects", "issues", "timeEntries"):
        await assert_allowed(owner, f"{{ {field}(first: 100) {{ totalCount }} }}")
        body = await send(owner, f"{{ {field}(first: 101) {{ totalCount }} }}")
        error = body["errors"][0]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}, body
    body = await send(
        owner,
        "query($n: Int) { projects(first: $n) { totalCount } }",
        variables={"n": 101},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await send(owner, "{ projects(last: 101) { totalCount } }")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "last"}


async def test_a_page_too_large_inside_a_mutation_is_refused_before_it_runs(
    owner: Client,
) -> None:
    """Reported as failed, a mutation must not have happened: a retry would then conflict."""
    before = await projects_count(owner)
    key = project_key()
    for nested in ("issues(first: 101) { totalCount }", "issues(last: 101) { totalCount }"):
        body = await send(
            owner,
            f'mutation {{ projectCreate(input: {{key: "{key}", name: "X"}}) '
            f"{{ project {{ id {nested} }} }} }}",
        )
        assert body.get("data") is None, body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert await projects_count(owner) == before
    # The same mutation with a page that fits goes through.
    made = await send(
        owner,
        f'mutation {{ projectCreate(input: {{key: "{key}", name: "X"}}) '
        "{ project { id issues(first: 100) { totalCount } } } }",
    )
    assert made["data"]["projectCreate"]["project"]["issues"] == {"totalCount": 0}, made


async def test_circular_fragments_are_refused_not_followed(owner: Client) -> None:
    """A fragment cycle must end in an error at once, not in a hang or a crash."""
    documents = [
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ viewer { ...S } } fragment S on Account { id ...S }",
        '{ project(key: "X") { ...P } } '
        "fragment P on Project { issues(first: 1) { nodes { project { ...P } } } }",
        "mutation { ...M } fragment M on Mutation { signOut ...M }",
    ]
    for document in documents:
        body = await asyncio.wait_for(send(owner, document), timeout=10)
        assert body.get("errors"), body
        assert body.get("data") is None, body
        code = body["errors"][0]["extensions"]["code"]
        assert code in ("BAD_USER_INPUT", "QUERY_TOO_COMPLEX"), body
    assert (await owner.gql("{ viewer { id } }"))["viewer"] is not None  # still signed in


async def test_limits_are_checked_before_any_resolver_runs(owner: Client) -> None:
    """A refused mutation must not have half-run: nothing it asks for is created."""
    before = await projects_count(owner)
    nested = "issues(first: 100) { nodes { comments(first: 100) { totalCount } } }"
    costly = (
        f'mutation {{ projectCreate(input: {{key: "{project_key()}", name: "X"}}) '
        f"{{ project {{ {nested} }} }} }}"
    )
    await assert_too_complex(owner, costly)

    many = " ".join(
        f'p{n}: projectCreate(input: {{key: "{project_key()}", name: "X"}}) {{ project {{ id }} }}'
        for n in range(16)
    )
    await assert_too_complex(owner, f"mutation {{ {many} }}")

    chain = " { ".join(["issues(first: 1)", "nodes", "project"] * 4)
    too_deep = (
        f'mutation {{ projectCreate(input: {{key: "{project_key()}", name: "X"}}) '
        f"{{ project {{ {chain} {{ id }}{' }' * 12} }} }}"
    )
    await assert_too_complex(owner, too_deep)
    assert await projects_count(owner) == before


async def test_batched_requests_are_refused(owner: Client) -> None:
    """A JSON array would multiply every limit by its length: one operation per request."""
    single = {"query": "{ viewer { id } }"}
    response = await owner.http.post("/graphql", json=[single, single])
    assert response.status_code == 400, response.text
    mutation = {
        "query": "mutation($i: ProjectCreateInput!) "
        "{ projectCreate(input: $i) { project { id } } }",
        "variables": {"i": {"key": project_key(), "name": "Batched"}},
    }
    before = await projects_count(owner)
    response = await owner.http.post(
        "/graphql", json=[mutation], headers={"X-Workspace": owner.workspace or ""}
    )
    assert response.status_code == 400, response.text
    assert await projects_count(owner) == before


async def test_a_selection_too_wide_is_refused_before_validation(
    owner: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation compares a selection's fields pairwise: hundreds of repeats of one field
    would cost the server close to a second, so more than 100 are refused up front."""
    validated: list[int] = []
    real_validate = strawberry_schema.validate

    def spy(schema: Any, document: DocumentNode, *args: Any, **kwargs: Any) -> Any:
        validated.append(widest_selection(document))
        return real_validate(schema, document, *args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", spy)
    at_bound = "{" + " ".join("viewer { id }" for _ in range(100)) + "}"
    assert "errors" not in await owner.post(at_bound)
    assert validated == [100]
    over = "{" + " ".join("viewer { id }" for _ in range(101)) + "}"
    error = await owner.error(over)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    error = await owner.error("{" + " ".join("viewer { id }" for _ in range(450)) + "}")
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    # Neither wide document reached validation.
    assert validated == [100]
