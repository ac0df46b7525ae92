"""GraphQL over HTTP: the public audit (the graphql-http package's auditServer) passes in
full against a real port, and the behaviours it checks hold here too, one by one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from lightningtrack.models.landlord import Workspace
from lightningtrack.schema.http import GRAPHQL_RESPONSE, JSON, negotiate
from tests.conftest import WORKSPACE_CREATE, Client, unique
from tests.ops.conftest import served

AUDIT = Path(__file__).resolve().parent / "audit"
NODE = shutil.which("node")


async def test_the_graphql_over_http_audit_passes_every_check(app: Any) -> None:
    if (NODE is None or shutil.which("npm") is None) and not os.environ.get("CI"):
        pytest.skip("Node.js is not installed (CI installs it)")
    if not (AUDIT / "node_modules" / "graphql-http").exists():
        install = await asyncio.create_subprocess_exec(
            "npm", "ci", "--no-audit", "--no-fund", "--silent", cwd=AUDIT
        )
        assert await install.wait() == 0, "npm ci of the audit package failed"
    async with served(app) as (base, _):
        audit = await asyncio.create_subprocess_exec(
            "node",
            "audit.mjs",
            f"{base}/graphql",
            cwd=AUDIT,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(audit.communicate(), 120)
    assert audit.returncode == 0
    results = json.loads(out)
    assert len(results) >= 60
    failing = [f"{r['status']} {r['id']} {r['name']}: {r['reason']}" for r in results]
    failing = [line for line, r in zip(failing, results, strict=True) if r["status"] != "ok"]
    # Every MUST, SHOULD and MAY of the audit.
    assert not failing, "\n".join(failing)


def test_accept_negotiation() -> None:
    assert negotiate(None) == JSON
    assert negotiate("") == JSON
    assert negotiate("*/*") == JSON
    assert negotiate("application/*") == JSON
    assert negotiate("application/json") == JSON
    assert negotiate(GRAPHQL_RESPONSE) == GRAPHQL_RESPONSE
    assert negotiate(f"application/json, {GRAPHQL_RESPONSE}") == GRAPHQL_RESPONSE
    assert negotiate(f"{GRAPHQL_RESPONSE};q=0.5, application/json") == JSON
    assert negotiate(f"{GRAPHQL_RESPONSE}; charset=utf-8") == GRAPHQL_RESPONSE
    assert negotiate("application/json; charset=latin-1") is None
    assert negotiate("text/html, */*;q=0.8") == JSON
    assert negotiate("text/csv") is None
    assert negotiate("application/json;q=0") is None


async def _post(client: Client, body: Any, accept: str | None) -> Any:
    headers = {"X-Workspace": client.workspace or ""}
    if accept is not None:
        headers["Accept"] = accept
    return await client.http.post("/graphql", json=body, headers=headers)


async def test_request_errors_are_400_without_data_for_graphql_response_json(
    owner: Client,
) -> None:
    for body in (
        {"query": "{"},
        {"query": "{ noSuchField }"},
        {"query": "query($n: Int!) { projects(first: $n) { totalCount } }", "variables": {}},
    ):
        modern = await _post(owner, body, GRAPHQL_RESPONSE)
        assert modern.status_code == 400, modern.text
        assert modern.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
        assert "data" not in modern.json() and modern.json()["errors"]
        legacy = await _post(owner, body, "application/json")
        assert legacy.status_code == 200, legacy.text
        assert legacy.headers["content-type"] == "application/json; charset=utf-8"
        assert legacy.json()["data"] is None and legacy.json()["errors"]


async def test_field_errors_keep_status_200_and_their_data(owner: Client) -> None:
    body = {"query": '{ viewer { name } project(key: "NOPE") { id } }'}
    response = await _post(owner, body, GRAPHQL_RESPONSE)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["name"]


async def test_whole_request_refusals_have_their_http_status(
    make_client: Any, owner: Client
) -> None:
    integrator: Client = make_client()
    bad_key = {"Authorization": "Bearer ltk_" + "0" * 36, "Accept": GRAPHQL_RESPONSE}
    response = await integrator.http.post(
        "/graphql", json={"query": "{ workspace { slug } }"}, headers=bad_key
    )
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    legacy = await integrator.http.post(
        "/graphql",
        json={"query": "{ workspace { slug } }"},
        headers={"Authorization": bad_key["Authorization"]},
    )
    assert legacy.status_code == 200


async def test_nothing_acceptable_is_406_and_changes_nothing(owner: Client) -> None:
    slug = unique("notacceptable")
    body = {"query": WORKSPACE_CREATE, "variables": {"input": {"name": "N", "slug": slug}}}
    response = await _post(owner, body, "text/csv")
    assert response.status_code == 406, response.text
    assert not await Workspace.exists(slug=slug)


async def test_get_runs_queries_and_refuses_mutations_with_405(owner: Client) -> None:
    query = await owner.http.get(
        "/graphql", params={"query": "{ viewer { name } }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert query.status_code == 200 and query.json()["data"]["viewer"]["name"]
    mutation = await owner.http.get(
        "/graphql",
        params={"query": "mutation { signOut }"},
        headers={"Accept": GRAPHQL_RESPONSE},
    )
    assert mutation.status_code == 405, mutation.text
    assert mutation.headers["allow"] == "POST"
    assert mutation.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await owner.gql("{ viewer { name } }"))["viewer"]["name"]  # still signed in


async def test_malformed_requests_are_400_with_a_graphql_error_body(owner: Client) -> None:
    for body in (
        {"query": "{ viewer { name } }", "operationName": 1},
        {"query": ["{ viewer { name } }"]},
        {"notquery": "{ viewer { name } }"},
    ):
        response = await _post(owner, body, GRAPHQL_RESPONSE)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errors"][0]["message"]
    broken = await owner.http.post(
        "/graphql",
        content=b'{ "not json',
        headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE},
    )
    assert broken.status_code == 400
    assert broken.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_graphiql_only_for_a_browser_asking_for_html(owner: Client) -> None:
    html = await owner.http.get("/graphql", headers={"Accept": "text/html,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html")
    anything = await owner.http.get("/graphql", headers={"Accept": "*/*"})
    assert anything.status_code == 400
    assert anything.headers["content-type"].startswith("application/json")
