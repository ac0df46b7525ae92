"""The limits measure what execution will run: ``@skip``/``@include`` with literals and
variables (and their defaults), fields merged by response key as graphql-core merges them,
aliases still apart; the reported cost is the one checked; a document of many spreads of
one fragment is measured in time linear in its size."""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import parse

from lightningtrack.schema import _connection_fields, build_schema
from lightningtrack.schema.limits import operation_of
from lightningtrack.schema.measure import Walker, walker_for
from tests.conftest import Client
from tests.integrators.test_limits import (
    COST_EXTENSION,
    assert_allowed,
    assert_too_complex,
    deep,
    send,
)

# Cost 9,900 on its own (100 issues, each 1 + its nodes' 1 + 97 comments): under the
# bound of 10,000; twice is refused.
COMMENTS = "nodes { comments(first: 97) { totalCount } }"
EXPENSIVE = f"issues(first: 100) {{ {COMMENTS} }}"
ONCE = 9_900
CHEAP = "projects(first: 7) { totalCount }"


def expensive(alias: str, directives: str) -> str:
    """EXPENSIVE under an alias, with directives."""
    return f"{alias}: issues(first: 100) {directives} {{ {COMMENTS} }}"


async def cost_of(client: Client, query: str, variables: dict[str, Any] | None = None) -> int:
    body = await send(client, query, variables=variables or {}, extensions=COST_EXTENSION)
    assert not body.get("errors"), body
    cost: int = body["extensions"]["cost"]["requestedQueryCost"]
    return cost


async def refused_cost(client: Client, query: str, variables: dict[str, Any] | None = None) -> int:
    body = await send(client, query, variables=variables or {})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", body
    assert body.get("data") is None, body
    cost: int = error["extensions"]["cost"]
    return cost


async def test_a_skipped_connection_costs_nothing(owner: Client) -> None:
    """Twice the bound, but one half is skipped: it never runs, so it costs nothing,
    whether the directive sits on the field, a fragment spread or an inline fragment."""
    fragment = f"\nfragment B on Query {{ b: {EXPENSIVE} }}"
    for query in (
        f"{{ a: {EXPENSIVE} {expensive('b', '@skip(if: true)')} {CHEAP} }}",
        f"{{ a: {EXPENSIVE} {expensive('b', '@include(if: false)')} {CHEAP} }}",
        f"{{ a: {EXPENSIVE} ... on Query @skip(if: true) {{ b: {EXPENSIVE} }} {CHEAP} }}",
        f"{{ a: {EXPENSIVE} ...B @include(if: false) {CHEAP} }}" + fragment,
        f"{{ a: {EXPENSIVE} ...B @skip(if: true) @include(if: true) {CHEAP} }}" + fragment,
    ):
        assert await cost_of(owner, query) == ONCE + 7, query
    # Included, it counts.
    included = f"{{ a: {EXPENSIVE} ...B @include(if: true) }}" + fragment
    assert await refused_cost(owner, included) == 2 * ONCE
    # A skipped part too deep, or with too many aliases, does not count either.
    await assert_too_complex(owner, deep(13))
    over = deep(13).replace('project(key: "NOPE") {', 'project(key: "NOPE") @skip(if: true) {')
    await assert_allowed(owner, "{ viewer { id } " + over[1:])
    aliases = " ".join(f"a{n}: viewer {{ id }}" for n in range(16))
    await assert_allowed(owner, f"{{ viewer {{ id }} ... @skip(if: true) {{ {aliases} }} }}")


async def test_variables_decide_skip_and_include_with_their_defaults(owner: Client) -> None:
    """The request's variables decide, and a variable left out takes its declared
    default; the cost reported is the one the check used."""
    query = (
        "query($skip: Boolean = true, $more: Boolean!) "
        f"{{ a: {EXPENSIVE} {expensive('b', '@skip(if: $skip)')} "
        f"{expensive('c', '@include(if: $more)')} {CHEAP} }}"
    )
    assert await cost_of(owner, query, {"more": False}) == ONCE + 7
    assert await refused_cost(owner, query, {"more": True}) == 2 * ONCE + 7
    assert await refused_cost(owner, query, {"skip": False, "more": False}) == 2 * ONCE + 7
    assert await refused_cost(owner, query, {"skip": False, "more": True}) == 3 * ONCE + 7
    # A default that includes: left out, it counts; given, the request's value wins.
    on = expensive("b", "@include(if: $on)")
    included = f"query($on: Boolean = true) {{ a: {EXPENSIVE} {on} }}"
    assert await refused_cost(owner, included) == 2 * ONCE
    assert await cost_of(owner, included, {"on": False}) == ONCE


async def test_the_same_connection_through_two_fragments_costs_once(owner: Client) -> None:
    """Execution merges fields of one response key into one field: reached through two
    fragments, or as a field and a fragment selecting it again, a connection runs once,
    its selections united."""
    two_fragments = (
        "{ ...A ...B }\n"
        f"fragment A on Query {{ {EXPENSIVE} }}\n"
        "fragment B on Query { issues(first: 100) { nodes { project { id } } } }"
    )
    # One issues(first: 100) { nodes { comments(first: 97) { totalCount } project { id } } }:
    # 100 * (1 + (1 + 97 + 1)) = 10,000, at the bound; counted apart it would be 10,200.
    assert await cost_of(owner, two_fragments) == 10_000
    body = await send(owner, two_fragments)
    assert body["data"] == {"issues": {"nodes": []}}, body

    field_and_spread = f"{{ {EXPENSIVE} ...A ...A }}\nfragment A on Query {{ {EXPENSIVE} }}"
    assert await cost_of(owner, field_and_spread) == ONCE
    nested = (
        f'{{ project(key: "X") {{ {EXPENSIVE} ...P }} }}\nfragment P on Project {{ {EXPENSIVE} }}'
    )
    assert await cost_of(owner, nested) == 1 + ONCE


async def test_aliases_still_count_separately(owner: Client) -> None:
    """Under two response keys the same connection runs twice, fragments or not."""
    assert await refused_cost(owner, f"{{ {EXPENSIVE} x: {EXPENSIVE} }}") == 2 * ONCE
    project = '{ a: project(key: "A") { ...P } b: project(key: "B") { ...P } }\n'
    fragment = f"fragment P on Project {{ {EXPENSIVE} }}"
    assert await refused_cost(owner, project + fragment) == 2 * (1 + ONCE)
    assert await cost_of(owner, f'{{ a: project(key: "A") {{ ...P }} }}\n{fragment}') == 1 + ONCE


def doubling(levels: int) -> str:
    """F(n) spreads F(n-1) twice: expanded one spread at a time, 2^levels viewers."""
    lines = [f"{{ ...F{levels} }}", "fragment F0 on Query { viewer { id } }"]
    lines += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, levels + 1)]
    return "\n".join(lines)


def aliased_doubling(levels: int) -> str:
    """Each level selects the next one twice under two aliases: a shape that really
    doubles, refused for its aliases and depth, measured without expanding it."""
    lines = [f'{{ project(key: "X") {{ ...F{levels} }} }}', "fragment F0 on Project { id }"]
    for n in range(1, levels + 1):
        inner = f"nodes {{ project {{ ...F{n - 1} }} }}"
        lines.append(
            f"fragment F{n} on Project {{ a: issues(first: 1) {{ {inner} }} "
            f"b: issues(first: 1) {{ {inner} }} }}"
        )
    return "\n".join(lines)


def walked(query: str) -> Walker:
    document = parse(query)
    operation = operation_of(document, None)
    assert operation is not None
    walker = walker_for(document, operation, {}, _connection_fields(build_schema()))
    walker.measure([operation.selection_set])
    return walker


def test_the_walk_is_linear_in_the_document() -> None:
    """Four times the fragments is about four times the work, not 2^30 times."""
    for shape in (doubling, aliased_doubling):
        small, large = walked(shape(10)), walked(shape(40))
        assert large.steps <= 5 * small.steps, (shape.__name__, small.steps, large.steps)


async def test_the_worst_case_document_stays_fast(owner: Client) -> None:
    """A document of 2^60 viewers once expanded (a few hundred tokens) is measured and run
    at once, as one viewer; one that really doubles is refused at once."""
    # 2^60 expanded fields would never finish: the bound only catches a walk that expands.
    body = await asyncio.wait_for(send(owner, doubling(60), extensions=COST_EXTENSION), 30)
    assert not body.get("errors"), body
    assert body["data"]["viewer"]["id"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1
    error = (await asyncio.wait_for(send(owner, aliased_doubling(30)), 30))["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
