"""Documents generated from the exported schema, answered every way alike.

Hypothesis (through hypothesis-graphql) draws queries of the tracker's read surface
straight from ``schema.graphql``: any field of the root lists and lookups, any nesting,
any argument values the schema admits (page sizes out of range, cursors and ids that are
no such thing, filters of every kind). Each document is answered with compiled builders
and plans, with plain fields read directly, and with every field through graphql-core's
``execute_field``; the JSON bodies must be byte for byte the same, errors and their paths
included, and none may be an internal error. The seeded workspace (tests/tracking/
test_compiled.py's) has rows for every list.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from tests.conftest import Client
from tests.tracking.test_compiled import answers, modes, seeded  # noqa: F401 (fixtures)

SCHEMA = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
# The read surface of a workspace's tracker (the root fields a dashboard or a script
# reads); the others (billing, privacy, settings) have resolvers only.
ROOTS = ["issues", "issue", "projects", "project", "timeEntries", "node", "members"]
# Argument values: mostly ones that find rows (placeholders for the seeded workspace's
# ids, a key and a cursor, replaced before sending), some that are no such thing.
IDS = ["@issue", "@project", "@comment", "@entry", "@account", "", "nothing"]
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
KNOWN = st.sampled_from(["bug", "ir", "@key", "@cursor"])
SMALL = st.sampled_from([0, 1, 2, 3, 50, 100])
SCALARS = {
    "ID": st.sampled_from(IDS).map(nodes.String),
    # Three in four values known (Hypothesis picks a branch of one_of uniformly).
    "String": st.one_of(KNOWN, KNOWN, KNOWN, TEXT).map(nodes.String),
    "Int": st.one_of(SMALL, SMALL, SMALL, st.integers(-3, 1000)).map(nodes.Int),
    "DateTime": st.sampled_from(
        ["2020-01-01T00:00:00Z", "2999-01-01T00:00:00+02:00", "yesterday", "2020-13-01T00:00Z"]
    ).map(nodes.String),
}


async def placeholders(owner: Client) -> dict[str, str]:
    """The seeded workspace's values that the documents' placeholders stand for."""
    found = await owner.gql(
        "{ viewer { id } issues(first: 1) { edges { cursor node { id key project { id }"
        " comments(first: 1) { nodes { id } } timeEntries(first: 1) { nodes { id } } } } } }"
    )
    edge = found["issues"]["edges"][0]
    issue = edge["node"]
    return {
        "@issue": issue["id"],
        "@project": issue["project"]["id"],
        "@comment": issue["comments"]["nodes"][0]["id"],
        "@entry": issue["timeEntries"]["nodes"][0]["id"],
        "@account": found["viewer"]["id"],
        "@key": issue["key"],
        "@cursor": edge["cursor"],
    }


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=queries(SCHEMA, fields=ROOTS, custom_scalars=SCALARS, allow_x00=False))
async def test_schema_drawn_documents_answer_alike_every_way(
    modes: None,  # noqa: F811
    seeded: Client,  # noqa: F811
    document: str,
) -> None:
    for placeholder, value in (await placeholders(seeded)).items():
        document = document.replace(json.dumps(placeholder), json.dumps(value))
    compiled, direct, slow = await answers(seeded, document)
    assert compiled == direct == slow, document
    errors = json.loads(compiled).get("errors") or []
    codes = {error.get("extensions", {}).get("code") for error in errors}
    assert "INTERNAL_SERVER_ERROR" not in codes, (document, errors)
