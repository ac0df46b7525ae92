"""Helpers for integrators' tests: extra members, API keys, the outbox and SQL statements.

A second account joins a workspace by a membership row written straight into the landlord
(except in the invitation tests, which go through GraphQL). Mail goes as ``.eml`` files to
``settings.data_dir / "outbox"``, shared by the whole run: mails are found by recipient,
and every test uses fresh addresses.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lightningtrack.models.landlord import Account as AccountModel
from lightningtrack.models.landlord import Membership, Role
from lightningtrack.models.landlord import Workspace as WorkspaceModel
from lightningtrack.settings import Settings
from tests.conftest import SIGN_UP, Client, signed_up, unique
from tests.conftest import mails_to as mails_to
from tests.conftest import statements as statements

PASSWORD = "correct horse"
API_KEY_FIELDS = "id name prefix scopes createdAt lastUsedAt revokedAt"
API_KEY_CREATE = f"""
mutation($input: ApiKeyCreateInput!) {{
  apiKeyCreate(input: $input) {{ secret apiKey {{ {API_KEY_FIELDS} }} }}
}}
"""
API_KEYS = f"{{ apiKeys {{ {API_KEY_FIELDS} }} }}"
API_KEY_REVOKE = f"mutation($id: ID!) {{ apiKeyRevoke(id: $id) {{ {API_KEY_FIELDS} }} }}"
PROJECT_CREATE = """
mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id key } } }
"""
ISSUE_CREATE = """
mutation($input: IssueCreateInput!) { issueCreate(input: $input) { issue { id key } } }
"""
MEMBERS = "{ members { account { id email } role } }"
MEMBER_INVITE = """
mutation($email: String!, $role: Role!) {
  memberInvite(email: $email, role: $role) { id email role expiresAt }
}
"""
MEMBER_REMOVE = "mutation($id: ID!) { memberRemove(accountId: $id) { deletedId } }"
MEMBER_ROLE_UPDATE = """
mutation($id: ID!, $role: Role!) {
  memberRoleUpdate(accountId: $id, role: $role) { role account { id } }
}
"""
VIEWER_ROLE = "{ workspace { slug viewerRole } }"


def new_email(prefix: str = "intg") -> str:
    return f"{unique(prefix)}@example.com"


def project_key() -> str:
    """A fresh project key (A-Z0-9, 2 to 10 characters)."""
    return "P" + secrets.token_hex(4).upper()


def raw_key(global_id: str) -> str:
    """The key inside one of our global ids ("Type:key", base64url)."""
    text = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return text.partition(":")[2]


async def account_id(client: Client) -> str:
    """The global id of the client's account."""
    data = await client.gql("{ viewer { id } }")
    found: str = data["viewer"]["id"]
    return found


async def account_row(client: Client) -> AccountModel:
    return await AccountModel.get(id=uuid.UUID(raw_key(await account_id(client))))


async def sign_up_as(make_client: Any, address: str, name: str = "Ivy") -> Client:
    """A new account with this exact address (and the session signUp starts)."""
    client: Client = make_client()
    await client.gql(SIGN_UP, {"input": {"name": name, "email": address, "password": PASSWORD}})
    return client


async def join(make_client: Any, owner: Client, role: Role, name: str = "Joe") -> Client:
    """A new account with ``role`` in the owner's workspace, bound to it."""
    client = await signed_up(make_client, name)
    workspace = await WorkspaceModel.get(slug=owner.workspace)
    await Membership.create(workspace=workspace, account=await account_row(client), role=role)
    client.workspace = owner.workspace
    return client


async def create_key(client: Client, scopes: list[str], name: str = "CI") -> tuple[str, str]:
    """(secret, global id) of a new key of the client's bound workspace."""
    data = await client.gql(API_KEY_CREATE, {"input": {"name": name, "scopes": scopes}})
    payload = data["apiKeyCreate"]
    return payload["secret"], payload["apiKey"]["id"]


def key_client(make_client: Any, secret: str) -> Client:
    """An integrator: no cookie, no X-Workspace, only the key."""
    client: Client = make_client()
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


async def create_project(client: Client, key: str | None = None) -> dict[str, Any]:
    data = await client.gql(PROJECT_CREATE, {"input": {"key": key or project_key(), "name": "W"}})
    project: dict[str, Any] = data["projectCreate"]["project"]
    return project


def link_token(settings: Settings, message: EmailMessage, path: str) -> str:
    """The token of the one ``{public_url}{path}?token=...`` link of a mail's text part."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    text: str = part.get_content()
    prefix = f"{settings.public_url}{path}?"
    links = [word for word in text.split() if word.startswith(prefix)]
    assert len(links) == 1, text
    query = parse_qs(urlsplit(links[0]).query)
    assert list(query) == ["token"], links[0]
    return query["token"][0]


def touching(sent: list[str], verb: str, table: str) -> list[str]:
    """The statements of ``sent`` that are a ``verb`` (SELECT, UPDATE…) naming ``table``."""
    return [
        s
        for s in sent
        if s.lstrip().upper().startswith(verb)
        and (f'"{table}"' in s or f"`{table}`" in s or f" {table} " in s)
    ]
