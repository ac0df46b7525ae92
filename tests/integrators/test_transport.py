"""The HTTP guards in front of /graphql, as a forging site would meet them: form and text
bodies, cross-site requests carrying the cookie, mutations over GET, oversized bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from lightningtrack.models.landlord import Workspace
from lightningtrack.settings import Settings
from tests.conftest import WORKSPACE_CREATE, Client, unique
from tests.integrators.conftest import create_key, key_client

VIEWER = "{ viewer { email } }"


def workspace_create(slug: str) -> dict[str, Any]:
    return {"query": WORKSPACE_CREATE, "variables": {"input": {"name": "Forged", "slug": slug}}}


async def email_of(client: Client) -> str:
    email: str = (await client.gql(VIEWER))["viewer"]["email"]
    return email


async def test_non_json_bodies_are_refused_and_change_nothing(owner: Client) -> None:
    """A form or text/plain POST needs no CORS preflight: it must never reach GraphQL."""
    slugs = [unique("forged") for _ in range(5)]
    text = await owner.http.post(
        "/graphql",
        content=json.dumps(workspace_create(slugs[0])),
        headers={"Content-Type": "text/plain"},
    )
    form = await owner.http.post(
        "/graphql",
        data={
            "query": WORKSPACE_CREATE,
            "variables": json.dumps(workspace_create(slugs[1])["variables"]),
        },
    )
    multipart = await owner.http.post(
        "/graphql",
        files={
            "operations": (None, json.dumps(workspace_create(slugs[2])), "application/json"),
            "map": (None, "{}", "application/json"),
        },
    )
    bare = await owner.http.post(
        "/graphql",
        content=json.dumps(workspace_create(slugs[3])).encode(),
        headers={"Content-Type": ""},
    )
    graphql_body = await owner.http.post(
        "/graphql",
        content=WORKSPACE_CREATE,
        headers={"Content-Type": "application/graphql"},
    )
    assert form.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert multipart.request.headers["content-type"].startswith("multipart/form-data")
    for response in (text, form, multipart, bare, graphql_body):
        assert response.status_code == 415, (response.request.headers, response.text)
    for slug in slugs:
        assert not await Workspace.exists(slug=slug)

    # JSON with a charset passes.
    allowed = await owner.http.post(
        "/graphql",
        content=json.dumps(workspace_create(slugs[4])),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert allowed.status_code == 200, allowed.text
    assert await Workspace.exists(slug=slugs[4])


async def test_cross_site_requests_with_the_cookie_are_refused(owner: Client) -> None:
    """Sec-Fetch-Site: cross-site plus the session cookie is a forged request, GET or POST."""
    slug = unique("xsite")
    post = await owner.http.post(
        "/graphql", json=workspace_create(slug), headers={"Sec-Fetch-Site": "cross-site"}
    )
    get = await owner.http.get(
        "/graphql", params={"query": VIEWER}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert post.status_code == 403, post.text
    assert get.status_code == 403, get.text
    assert not await Workspace.exists(slug=slug)


async def test_same_origin_and_typed_urls_pass(owner: Client) -> None:
    """The app itself (same-origin) and a typed address (none) are no forgery."""
    address = await email_of(owner)
    for site in ("same-origin", "none"):
        response = await owner.http.post(
            "/graphql", json={"query": VIEWER}, headers={"Sec-Fetch-Site": site}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["viewer"]["email"] == address


async def test_cross_site_without_a_cookie_is_no_forgery(make_client: Any, owner: Client) -> None:
    """An API key is not sent by the browser on its own: such a request may come from anywhere."""
    secret, _ = await create_key(owner, ["READ"])
    integrator = key_client(make_client, secret)
    data = await integrator.gql("{ workspace { slug } }", headers={"Sec-Fetch-Site": "cross-site"})
    assert data["workspace"]["slug"] == owner.workspace


async def test_mutations_over_get_are_refused(owner: Client) -> None:
    """A link or an <img> makes a GET: it must never change anything."""
    slug = unique("viaget")
    mutation = workspace_create(slug)
    response = await owner.http.get(
        "/graphql",
        params={"query": mutation["query"], "variables": json.dumps(mutation["variables"])},
    )
    # GraphQL over HTTP: 405, and the method that would do.
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    mixed = await owner.http.get(
        "/graphql",
        params={
            "query": "query Q { viewer { id } } "
            + mutation["query"].replace("mutation", "mutation M"),
            "operationName": "M",
            "variables": json.dumps(mutation["variables"]),
        },
    )
    assert mixed.status_code == 405, mixed.text
    assert not await Workspace.exists(slug=slug)


async def test_a_query_over_get_works(owner: Client) -> None:
    """GET is fine for reading (cacheable, linkable)."""
    response = await owner.http.get("/graphql", params={"query": VIEWER})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["email"] == await email_of(owner)


def padded(size: int, query: str = VIEWER, variables: dict[str, Any] | None = None) -> bytes:
    """A JSON request body of exactly ``size`` bytes (an unused extension carries the pad)."""
    body = {"query": query, "variables": variables or {}, "extensions": {"pad": ""}}
    bare = len(json.dumps(body).encode())
    body["extensions"] = {"pad": "x" * (size - bare)}
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_bodies_over_one_mebibyte_are_refused(owner: Client, settings: Settings) -> None:
    """A huge body costs memory and parsing before any limit of GraphQL can act."""
    limit = settings.max_body_bytes
    assert limit == 1024 * 1024
    headers = {"Content-Type": "application/json"}

    at_limit = await owner.http.post("/graphql", content=padded(limit), headers=headers)
    assert at_limit.status_code == 200, at_limit.text
    assert at_limit.json()["data"]["viewer"] is not None

    slug = unique("huge")
    mutation = workspace_create(slug)
    over = padded(limit + 1, mutation["query"], mutation["variables"])
    declared = await owner.http.post("/graphql", content=over, headers=headers)
    assert declared.status_code == 413, declared.text

    streamed = await owner.http.post("/graphql", content=chunks(over), headers=headers)
    assert "content-length" not in streamed.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    assert streamed.status_code == 413, streamed.text
    assert not await Workspace.exists(slug=slug)

    # Chunked and within the limit: read whole, and served.
    small = await owner.http.post("/graphql", content=chunks(padded(limit), 1000), headers=headers)
    assert small.status_code == 200, small.text

    lying = await owner.http.post(
        "/graphql", content=padded(1000), headers={**headers, "Content-Length": "99999999"}
    )
    assert lying.status_code == 413, lying.text
