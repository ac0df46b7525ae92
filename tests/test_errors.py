"""Error codes: bad requests are BAD_USER_INPUT; anything unexpected leaks nothing."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import pytest

from lightningtrack.resolvers import workspaces
from tests.conftest import Client


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ viewer { id ", {}),
        ("{ nope }", {}),
        ("{ viewer { password } }", {}),
        ("query($id: ID!) { node(id: $id) { id } }", {}),
        # Null for a variable with a default, where a non-null argument takes it: coerced
        # (and refused) only when execution reaches the field.
        ('query($id: ID = "x") { node(id: $id) { id } }', {"id": None}),
        (
            "mutation($input: SignInInput!) { signIn(input: $input) { account { id } } }",
            {"input": {"email": 1}},
        ),
    ],
)
async def test_malformed_requests_are_bad_user_input(
    make_client: Any, caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any]
) -> None:
    """Syntax, unknown fields and wrong variables are the client's mistake, not the server's."""
    caplog.set_level(logging.ERROR)
    error = await make_client().error(query, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"] != "Unexpected error."
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unexpected_exception_is_hidden_and_logged(
    owner: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug shows the client only a request id; the log keeps the traceback under that id."""

    async def broken(account: object) -> NoReturn:
        raise RuntimeError("secret SQL here")

    monkeypatch.setattr(workspaces, "memberships_of", broken)
    caplog.set_level(logging.ERROR, logger="lightningtrack.errors")
    response = await owner.http.post(
        "/graphql",
        json={"query": "{ workspaces { slug } }"},
        headers={"X-Workspace": owner.workspace or ""},
    )

    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = response.headers["x-request-id"]
    assert request_id
    assert error["extensions"]["requestId"] == request_id
    assert "secret SQL" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text

    logged = [r for r in caplog.records if r.exc_info and "secret SQL here" in str(r.exc_info[1])]
    assert len(logged) == 1, caplog.records
    assert getattr(logged[0], "request_id", None) == request_id
    assert "Traceback" in caplog.text
    assert "secret SQL here" in caplog.text


async def test_every_response_carries_a_request_id(make_client: Any) -> None:
    """Support can only find a request in the logs if the client was told its id."""
    client: Client = make_client()
    first = await client.http.post("/graphql", json={"query": "{ viewer { id } }"})
    second = await client.http.post("/graphql", json={"query": "{ viewer { id } }"})
    assert first.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_plain_client_request_id_is_kept_and_anything_else_replaced(
    make_client: Any,
) -> None:
    """A proxy's request id joins the logs up; text that could forge log lines does not."""
    client: Client = make_client()
    kept = await client.http.post(
        "/graphql", json={"query": "{ viewer { id } }"}, headers={"x-request-id": "edge-1234abcd"}
    )
    assert kept.headers["x-request-id"] == "edge-1234abcd"
    for offered in ("short", "x" * 65, "two words here", 'a"}\n{"forged":1'):
        replaced = await client.http.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers={"x-request-id": offered}
        )
        assert replaced.headers["x-request-id"] != offered
        assert len(replaced.headers["x-request-id"]) == 32


async def test_expected_errors_are_not_logged_as_errors(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A user's mistake is not an incident: no traceback in the error log."""
    caplog.set_level(logging.ERROR)
    await make_client().error("{ workspaces { slug } }")
    await make_client().error("{ nope }")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "query",
    ["{ ... @defer { __typename } }", "{ workspaces @stream { slug } }"],
)
async def test_incremental_delivery_directives_are_refused(make_client: Any, query: str) -> None:
    """The API answers in one payload: @defer and @stream are unknown directives (the
    executor the schema runs on does not deliver incrementally)."""
    error = await make_client().error(query)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "Unknown directive" in error["message"], error
