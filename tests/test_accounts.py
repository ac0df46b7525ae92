"""Accounts: sign-up, sign-in, input rules, and how passwords are stored."""

from __future__ import annotations

from typing import Any

import bcrypt
import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from lightningtrack.models.landlord import Account, Session
from tests.conftest import SIGN_UP, Client, unique

SIGN_IN = """
mutation($input: SignInInput!) { signIn(input: $input) { account { id email } } }
"""
VIEWER = "{ viewer { id name email emailVerified createdAt deletionScheduledAt } }"
PASSWORD = "correct horse"


def new_email(prefix: str = "acct") -> str:
    return f"{unique(prefix)}@example.com"


def sign_up_input(email: str, password: str = PASSWORD, name: str = "Ann") -> dict[str, Any]:
    return {"input": {"name": name, "email": email, "password": password}}


def sign_in_input(email: str, password: str = PASSWORD) -> dict[str, Any]:
    return {"input": {"email": email, "password": password}}


async def sign_up(make_client: Any, email: str, password: str = PASSWORD) -> Client:
    client: Client = make_client()
    await client.gql(SIGN_UP, sign_up_input(email, password))
    return client


async def stored_hash(email: str) -> str:
    account = await Account.get(email_key=email.casefold())
    return account.password_hash


async def test_sign_up_creates_account_and_session(make_client: Any) -> None:
    """Signing up must both record the account and sign the browser in."""
    email = new_email()
    client: Client = make_client()
    response = await client.http.post(
        "/graphql", json={"query": SIGN_UP, "variables": sign_up_input(email)}
    )
    body = response.json()
    assert "errors" not in body, body
    created = body["data"]["signUp"]["account"]
    assert created["email"] == email
    assert created["name"] == "Ann"
    assert "lt_session" in response.cookies

    account = await Account.get(email_key=email)
    assert account.name == "Ann"
    assert await Session.filter(account_id=account.id).count() == 1

    viewer = (await client.gql(VIEWER))["viewer"]
    assert viewer["id"] == created["id"]
    assert viewer["email"] == email
    assert viewer["emailVerified"] is False
    assert viewer["deletionScheduledAt"] is None


async def test_sign_up_keeps_the_email_as_typed_but_trims_it(make_client: Any) -> None:
    """The email is shown as entered (minus stray spaces) while matching ignores case."""
    email = new_email("Mixed").replace("example", "Example")
    client: Client = make_client()
    data = await client.gql(SIGN_UP, sign_up_input(f"  {email} "))
    assert data["signUp"]["account"]["email"] == email
    signed_in = await make_client().gql(SIGN_IN, sign_in_input(email.upper()))
    assert signed_in["signIn"]["account"]["id"] == data["signUp"]["account"]["id"]


async def test_email_is_unique_regardless_of_case(make_client: Any) -> None:
    """Ann@X and ann@x are one mailbox; a second account for it must be refused."""
    email = new_email("Case").replace("example", "Example")
    await sign_up(make_client, email)
    error = await make_client().error(SIGN_UP, sign_up_input(email.lower()))
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "input.email"
    assert await Account.filter(email_key=email.casefold()).count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "ann@localhost"),
        ("email", "ann smith@example.com"),
        ("email", ""),
        ("email", "a" * 310 + "@example.com"),
        ("name", ""),
        ("name", "   "),
        ("name", "n" * 201),
        ("password", "p" * 7),
        ("password", "p" * 257),
    ],
)
async def test_sign_up_rejects_bad_input_naming_the_field(
    make_client: Any, field: str, value: str
) -> None:
    """A form must be able to put the message next to the right field; nothing is created."""
    email = new_email("bad")
    variables = sign_up_input(email)
    variables["input"][field] = value
    client: Client = make_client()
    error = await client.error(SIGN_UP, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == f"input.{field}"
    assert not await Account.exists(email_key=email)
    assert (await client.gql("{ viewer { id } }"))["viewer"] is None


@pytest.mark.parametrize("length", [8, 256])
async def test_password_length_bounds_are_inclusive(make_client: Any, length: int) -> None:
    """8 and 256 characters are the documented limits and must both be accepted."""
    email = new_email("len")
    await sign_up(make_client, email, "p" * length)
    data = await make_client().gql(SIGN_IN, sign_in_input(email, "p" * length))
    assert data["signIn"]["account"]["email"] == email


async def test_sign_in_starts_a_session(make_client: Any) -> None:
    """A correct password signs a fresh browser in."""
    email = new_email()
    await sign_up(make_client, email)
    client: Client = make_client()
    assert (await client.gql("{ viewer { id } }"))["viewer"] is None
    await client.gql(SIGN_IN, sign_in_input(email))
    assert (await client.gql("{ viewer { email } }"))["viewer"] == {"email": email}


async def test_unknown_email_and_wrong_password_look_identical(make_client: Any) -> None:
    """The error must not reveal whether an email has an account."""
    email = new_email()
    await sign_up(make_client, email)
    client: Client = make_client()
    wrong_password = await client.error(SIGN_IN, sign_in_input(email, "wrong password"))
    unknown_email = await client.error(SIGN_IN, sign_in_input(new_email("nobody")))
    assert wrong_password["extensions"]["code"] == "UNAUTHENTICATED"
    assert wrong_password["message"] == unknown_email["message"]
    assert wrong_password["extensions"] == unknown_email["extensions"]
    assert (await client.gql("{ viewer { id } }"))["viewer"] is None


async def test_password_is_stored_as_argon2id_with_owasp_parameters(make_client: Any) -> None:
    """Stored hashes must be argon2id with at least 19 MiB and 2 iterations, never plain."""
    email = new_email()
    await sign_up(make_client, email, "a distinctive password")
    stored = await stored_hash(email)
    assert stored.startswith("$argon2id$")
    assert "a distinctive password" not in stored
    parameters = extract_parameters(stored)
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= 19456
    assert parameters.time_cost >= 2


async def test_bcrypt_hash_verifies_and_is_replaced_by_argon2id(make_client: Any) -> None:
    """Imported bcrypt hashes must keep working, and be upgraded at the first sign-in."""
    email = new_email("legacy")
    await sign_up(make_client, email)
    legacy = bcrypt.hashpw(b"imported password", bcrypt.gensalt(rounds=4)).decode()
    await Account.filter(email_key=email).update(password_hash=legacy)

    refused = await make_client().error(SIGN_IN, sign_in_input(email, "not it"))
    assert refused["extensions"]["code"] == "UNAUTHENTICATED"
    assert await stored_hash(email) == legacy

    await make_client().gql(SIGN_IN, sign_in_input(email, "imported password"))
    upgraded = await stored_hash(email)
    assert upgraded.startswith("$argon2id$")
    assert extract_parameters(upgraded).time_cost >= 2
    await make_client().gql(SIGN_IN, sign_in_input(email, "imported password"))
    assert await stored_hash(email) == upgraded


async def test_argon2_hash_with_old_parameters_is_rehashed(make_client: Any) -> None:
    """Raising the cost later must reach existing accounts as they sign in."""
    email = new_email("weak")
    await sign_up(make_client, email)
    weak = PasswordHasher(time_cost=1, memory_cost=19456, parallelism=1, type=Type.ID).hash(
        PASSWORD
    )
    await Account.filter(email_key=email).update(password_hash=weak)

    await make_client().gql(SIGN_IN, sign_in_input(email))
    rehashed = await stored_hash(email)
    assert rehashed != weak
    parameters = extract_parameters(rehashed)
    assert parameters.type is Type.ID
    assert parameters.time_cost >= 2
    assert parameters.memory_cost >= 19456


async def test_password_never_appears_in_any_response(make_client: Any) -> None:
    """Neither data, errors nor headers may echo a password back."""
    password = "Zebra-Quartz-8841"
    email = new_email()
    client: Client = make_client()
    requests: list[tuple[str, dict[str, Any]]] = [
        (SIGN_UP, sign_up_input(email, password)),
        (SIGN_UP, sign_up_input(email, password)),  # CONFLICT
        (SIGN_UP, sign_up_input(new_email(), password[:7])),  # too short
        (SIGN_IN, sign_in_input(email, password)),
        (SIGN_IN, sign_in_input(email, password + "x")),  # wrong
        (VIEWER, {}),
    ]
    for query, variables in requests:
        response = await client.http.post("/graphql", json={"query": query, "variables": variables})
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        assert password[:7] not in response.text, response.text
        assert password[:7] not in headers
    assert (await client.gql("{ viewer { email } }"))["viewer"] == {"email": email}
