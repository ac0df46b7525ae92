"""Sessions: the cookie's flags, rotation, server-side storage, sign-out and expiry."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lightningtrack import clock
from lightningtrack.app import create_app
from lightningtrack.models.landlord import Account, Session
from lightningtrack.settings import Settings, load_settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import SIGN_UP, Client, environment_for, unique

SIGN_IN = """
mutation($input: SignInInput!) { signIn(input: $input) { account { id } } }
"""
VIEWER = "{ viewer { id email } }"
PASSWORD = "correct horse"


def credentials() -> dict[str, Any]:
    return {"name": "Sam", "email": f"{unique('sess')}@example.com", "password": PASSWORD}


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """(name, value, attributes with lower-cased names) of one Set-Cookie header."""
    first, *rest = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    attributes: dict[str, str] = {}
    for part in rest:
        key, _, attr_value = part.partition("=")
        attributes[key.strip().lower()] = attr_value.strip()
    return name, value, attributes


def session_cookie(response: httpx.Response) -> tuple[str, str, dict[str, str]]:
    cookies = [parse_set_cookie(h) for h in response.headers.get_list("set-cookie")]
    assert len(cookies) == 1, cookies  # one cookie, and only one: the privacy policy says so
    return cookies[0]


async def sign_up_raw(http: httpx.AsyncClient, fields: dict[str, Any]) -> httpx.Response:
    response = await http.post("/graphql", json={"query": SIGN_UP, "variables": {"input": fields}})
    assert "errors" not in response.json(), response.text
    return response


async def viewer_with(make_client: Any, token: str, name: str = "lt_session") -> Any:
    """The viewer for a bare cookie value sent from a browser that has nothing else."""
    client: Client = make_client()
    data = await client.gql(VIEWER, headers={"Cookie": f"{name}={token}"})
    return data["viewer"]


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
async def https_http(settings: Settings, tenancy: Tenancy) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app, configured with an https:// public URL, same databases."""
    env = environment_for(settings.data_dir, settings.database_url.database or "")
    https_settings = load_settings({**env, "LT_PUBLIC_URL": "https://x.example"})
    app = create_app(https_settings, tenancy)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://x.example"
    ) as http:
        yield http


async def test_cookie_flags_on_http(make_client: Any) -> None:
    """Over http the cookie cannot be Secure, but must still be HttpOnly, Lax and site-wide."""
    client: Client = make_client()
    response = await sign_up_raw(client.http, credentials())
    name, value, attributes = session_cookie(response)
    assert name == "lt_session"
    assert len(value) >= 43  # 32 random bytes, base64url
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "lax"
    assert attributes["path"] == "/"
    assert "secure" not in attributes
    assert "domain" not in attributes
    assert attributes["max-age"] == str(30 * 86400)


async def test_cookie_on_https_is_host_prefixed_and_secure(
    make_client: Any, https_http: httpx.AsyncClient
) -> None:
    """With https the cookie is __Host-: Secure, no Domain, Path=/, pinned to the origin."""
    response = await sign_up_raw(https_http, credentials())
    name, value, attributes = session_cookie(response)
    assert name == "__Host-lt_session"
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "domain" not in attributes
    assert attributes["path"] == "/"
    assert attributes["samesite"].lower() == "lax"

    viewer = await https_http.post("/graphql", json={"query": VIEWER})
    assert viewer.json()["data"]["viewer"] is not None
    # The https app reads only the prefixed name.
    stray = await https_http.post(
        "/graphql", json={"query": VIEWER}, headers={"Cookie": f"lt_session={value}"}
    )
    assert stray.json()["data"]["viewer"] is None


async def test_sign_out_on_https_clears_the_host_cookie(https_http: httpx.AsyncClient) -> None:
    """The cookie deletion must carry the same name and Secure flag, or browsers ignore it."""
    await sign_up_raw(https_http, credentials())
    response = await https_http.post("/graphql", json={"query": "mutation { signOut }"})
    assert response.json()["data"] == {"signOut": True}
    name, _value, attributes = session_cookie(response)
    assert name == "__Host-lt_session"
    assert "secure" in attributes
    assert attributes["max-age"] == "0"
    assert (await https_http.post("/graphql", json={"query": VIEWER})).json()["data"] == {
        "viewer": None
    }


async def test_every_sign_in_gets_a_new_session_id(make_client: Any) -> None:
    """Session fixation: the id from before signing in again must stop working."""
    fields = credentials()
    client: Client = make_client()
    first = session_cookie(await sign_up_raw(client.http, fields))[1]

    response = await client.http.post(
        "/graphql",
        json={
            "query": SIGN_IN,
            "variables": {"input": {"email": fields["email"], "password": PASSWORD}},
        },
    )
    assert "errors" not in response.json(), response.text
    second = session_cookie(response)[1]
    assert second != first

    assert await viewer_with(make_client, first) is None
    assert (await viewer_with(make_client, second))["email"] == fields["email"]
    assert (await client.gql(VIEWER))["viewer"]["email"] == fields["email"]
    assert not await Session.exists(token_hash=sha256(first))


async def test_sign_in_elsewhere_keeps_other_sessions(make_client: Any) -> None:
    """Signing in on a second device must not sign the first one out."""
    fields = credentials()
    laptop: Client = make_client()
    await sign_up_raw(laptop.http, fields)
    phone: Client = make_client()
    await phone.gql(SIGN_IN, {"input": {"email": fields["email"], "password": PASSWORD}})
    assert (await laptop.gql(VIEWER))["viewer"] is not None
    assert (await phone.gql(VIEWER))["viewer"] is not None


async def test_only_the_sha256_of_the_token_is_stored(make_client: Any) -> None:
    """A leaked landlord database must not contain usable session ids."""
    fields = credentials()
    client: Client = make_client()
    token = session_cookie(await sign_up_raw(client.http, fields))[1]
    account = await Account.get(email_key=fields["email"])
    stored = await Session.filter(account_id=account.id).values_list("token_hash", flat=True)
    assert stored == [sha256(token)]
    assert not await Session.exists(token_hash=token)


async def test_sign_out_ends_the_session_server_side(make_client: Any) -> None:
    """A copied cookie must be worthless after signing out, not just deleted in the browser."""
    client: Client = make_client()
    token = session_cookie(await sign_up_raw(client.http, credentials()))[1]
    assert await viewer_with(make_client, token) is not None

    assert (await client.gql("mutation { signOut }")) == {"signOut": True}
    assert (await client.gql(VIEWER))["viewer"] is None
    assert await viewer_with(make_client, token) is None
    assert not await Session.exists(token_hash=sha256(token))


async def test_sign_out_without_a_session_returns_false(make_client: Any) -> None:
    """Signing out twice is harmless and says that nothing was ended."""
    client: Client = make_client()
    assert (await client.gql("mutation { signOut }")) == {"signOut": False}


async def test_garbage_cookie_is_no_session(make_client: Any) -> None:
    """An unknown or oversized cookie is simply not signed in, never an error."""
    assert await viewer_with(make_client, "nope") is None
    assert await viewer_with(make_client, "x" * 4000) is None


async def test_idle_session_expires_after_seven_days(settings: Settings, make_client: Any) -> None:
    """A session unused for the idle timeout (7 days by default) is over."""
    assert settings.session_idle_timeout == timedelta(days=7)
    start = datetime.now(UTC)
    clock.freeze(start)
    kept = session_cookie(await sign_up_raw(make_client().http, credentials()))[1]
    dropped = session_cookie(await sign_up_raw(make_client().http, credentials()))[1]

    clock.freeze(start + timedelta(days=7) - timedelta(minutes=1))
    assert await viewer_with(make_client, kept) is not None  # used: idle clock restarts

    clock.freeze(start + timedelta(days=7))
    assert await viewer_with(make_client, dropped) is None
    assert not await Session.exists(token_hash=sha256(dropped))
    assert await viewer_with(make_client, kept) is not None

    clock.freeze(start + timedelta(days=14))  # last used at day 7
    assert await viewer_with(make_client, kept) is None


async def test_session_dies_at_its_absolute_lifetime_even_if_used(
    settings: Settings, make_client: Any
) -> None:
    """Used every 6 days a session never idles out, yet it still ends 30 days after sign-in."""
    assert settings.session_lifetime == timedelta(days=30)
    start = datetime.now(UTC)
    clock.freeze(start)
    token = session_cookie(await sign_up_raw(make_client().http, credentials()))[1]

    for days in (6, 12, 18, 24):
        clock.freeze(start + timedelta(days=days))
        assert await viewer_with(make_client, token) is not None, f"dead after {days} days"
    clock.freeze(start + timedelta(days=30) - timedelta(minutes=1))
    assert await viewer_with(make_client, token) is not None

    clock.freeze(start + timedelta(days=30))
    assert await viewer_with(make_client, token) is None
    assert not await Session.exists(token_hash=sha256(token))
