"""LT_ENV=production: no introspection, no field suggestions, no GraphiQL, unless asked;
the development app of the session is the control that each of these is real."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from lightningtrack.app import create_app
from lightningtrack.jobs.runner import InProcessRunner
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, environment_for, unique

PUBLIC_URL = "https://api.example"
INTROSPECTION = [
    "{ __schema { types { name } } }",
    '{ __type(name: "Query") { fields { name } } }',
    "{ s: __schema { queryType { name } } }",
    "{ ...F } fragment F on Query { __schema { types { name } } }",
    '{ viewer { id } __type(name: "Account") { name } }',
]
# Typos that graphql-core answers with "Did you mean …?" where suggestions are on.
TYPOS: list[tuple[str, dict[str, Any]]] = [
    ("{ viewr { id } }", {}),
    ("{ viewer { emial } }", {}),
    ("{ projects(frist: 1) { totalCount } }", {}),
    ("query($n: Itn) { projects(first: $n) { totalCount } }", {}),
    ('{ issues(filter: { serch: "x" }) { totalCount } }', {}),
    ("{ issues(orderBy: { field: CREATD_AT, direction: ASC }) { totalCount } }", {}),
    ('{ node(id: "x") { ... on Projct { id } } }', {}),
    (SIGN_UP, {"input": {"nme": "A", "email": "a@example.com", "password": "correct horse"}}),
    (
        "query($s: [IssueStatus!]) { issues(filter: { status: $s }) { totalCount } }",
        {"s": ["DOEN"]},
    ),
]


@asynccontextmanager
async def production(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner, **extra: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a production app on the session's databases."""
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    prod_settings = load_settings(
        {
            **env,
            "LT_ENV": "production",
            "LT_PUBLIC_URL": PUBLIC_URL,
            "LT_SECRET_KEY": "production-secret-" + "y" * 40,
            **extra,
        }
    )
    assert prod_settings.production
    app = create_app(prod_settings, tenancy, jobs)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL
    ) as http:
        yield http


async def signed_in(http: httpx.AsyncClient) -> None:
    email = f"{unique('prod')}@example.com"
    variables = {"input": {"name": "Pro", "email": email, "password": "correct horse"}}
    response = await http.post("/graphql", json={"query": SIGN_UP, "variables": variables})
    assert not response.json().get("errors"), response.text


async def messages(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> list[str]:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert body.get("errors"), (query, body)
    return [error["message"] for error in body["errors"]]


def development(make_client: Callable[[], Any]) -> httpx.AsyncClient:
    http: httpx.AsyncClient = make_client().http
    return http


async def test_introspection_is_off_in_production(
    make_client: Any, settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """The schema is not a map to hand to strangers; __typename still works."""
    async with production(settings, tenancy, jobs) as http:
        await signed_in(http)
        for query in INTROSPECTION:
            response = await http.post("/graphql", json={"query": query})
            body = response.json()
            assert body.get("errors"), (query, body)
            assert body.get("data") is None, (query, body)
            assert '"Workspace"' not in response.text and "Account'" not in response.text
        plain = await http.post("/graphql", json={"query": "{ __typename viewer { id } }"})
        assert plain.json()["data"]["__typename"] == "Query"

    dev = development(make_client)
    body = (await dev.post("/graphql", json={"query": INTROSPECTION[0]})).json()
    assert any(t["name"] == "Workspace" for t in body["data"]["__schema"]["types"])


async def test_no_field_suggestions_in_production(
    make_client: Any, settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """ "Did you mean" would spell out the schema that introspection keeps hidden."""
    async with production(settings, tenancy, jobs) as http:
        await signed_in(http)
        for query, variables in TYPOS:
            for message in await messages(http, query, variables):
                assert "Did you mean" not in message, (query, message)
                assert "did you mean" not in message.lower(), (query, message)

    dev = development(make_client)
    suggested = [
        any("Did you mean" in m for m in await messages(dev, query, variables))
        for query, variables in TYPOS
    ]
    assert all(suggested), list(zip([q for q, _ in TYPOS], suggested, strict=True))


async def test_no_graphiql_in_production(
    make_client: Any, settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """A browser opening /graphql in production gets no IDE."""
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with production(settings, tenancy, jobs) as http:
        response = await http.get("/graphql", headers=html)
        assert "graphiql" not in response.text.lower()
        assert not response.headers.get("content-type", "").startswith("text/html")
        assert response.status_code != 200

    dev = await development(make_client).get("/graphql", headers=html)
    assert dev.status_code == 200
    assert dev.headers["content-type"].startswith("text/html")
    assert "graphiql" in dev.text.lower()


async def test_introspection_can_be_turned_back_on(
    settings: Settings, tenancy: Tenancy, jobs: InProcessRunner
) -> None:
    """LT_INTROSPECTION=true is the operator's explicit choice, and it is honoured."""
    async with production(settings, tenancy, jobs, LT_INTROSPECTION="true") as http:
        for query in INTROSPECTION:
            body = (await http.post("/graphql", json={"query": query})).json()
            assert not body.get("errors"), (query, body)
        body = (await http.post("/graphql", json={"query": INTROSPECTION[0]})).json()
        assert any(t["name"] == "Workspace" for t in body["data"]["__schema"]["types"])
