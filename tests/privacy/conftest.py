"""Privacy helpers: reading the outbox, pulling tokens out of mails, joining workspaces.

Mail goes to ``settings.data_dir / "outbox"`` as ``.eml`` files (no ``LT_SMTP_URL`` in
tests); the folder is shared by the whole run, so mails are found by their recipient,
and every test uses fresh addresses.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
import zipfile
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lightningtrack.models.landlord import Account as AccountModel
from lightningtrack.models.landlord import Membership, Role
from lightningtrack.models.landlord import Workspace as WorkspaceModel
from lightningtrack.settings import Settings
from tests.conftest import SIGN_UP, Client, unique
from tests.conftest import mails_to as mails_to

PASSWORD = "correct horse"
SIGN_IN = "mutation($input: SignInInput!) { signIn(input: $input) { account { id } } }"
VIEWER = "{ viewer { id name email emailVerified createdAt deletionScheduledAt } }"
EXPORT_FIELDS = "id kind status createdAt completedAt expiresAt downloadUrl"
DATA_EXPORTS = f"{{ dataExports {{ {EXPORT_FIELDS} }} }}"
DATA_EXPORT = f"query($id: ID!) {{ dataExport(id: $id) {{ {EXPORT_FIELDS} }} }}"
DATA_EXPORT_CREATE = f"mutation {{ dataExportCreate {{ {EXPORT_FIELDS} }} }}"
ACCESS_REPORT_CREATE = f"mutation {{ accessReportCreate {{ {EXPORT_FIELDS} }} }}"


def new_email(prefix: str = "priv") -> str:
    return f"{unique(prefix)}@example.com"


async def sign_up_as(make_client: Any, email: str, name: str = "Pia") -> Client:
    """A new account with this address (and the session signUp starts)."""
    client: Client = make_client()
    await client.gql(SIGN_UP, {"input": {"name": name, "email": email, "password": PASSWORD}})
    return client


async def viewer(client: Client) -> dict[str, Any] | None:
    data = await client.gql(VIEWER)
    found: dict[str, Any] | None = data["viewer"]
    return found


def raw_key(global_id: str) -> str:
    """The key inside one of our global ids ("Type:key", base64url)."""
    text = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return text.partition(":")[2]


async def account_row(client: Client) -> AccountModel:
    found = await viewer(client)
    assert found is not None
    return await AccountModel.get(id=uuid.UUID(raw_key(found["id"])))


async def join(client: Client, workspace_slug: str, role: Role) -> None:
    """Add the client's account to a workspace; invitations do not exist yet, so the
    membership row is written straight into the landlord."""
    workspace = await WorkspaceModel.get(slug=workspace_slug)
    await Membership.create(workspace=workspace, account=await account_row(client), role=role)


def parts(message: EmailMessage) -> tuple[str, str]:
    """(the plain-text body, the HTML body); both must exist."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and text.get_content_type() == "text/plain", message
    assert html is not None and html.get_content_type() == "text/html", message
    text_body: str = text.get_content()
    html_body: str = html.get_content()
    return text_body, html_body


def link_token(settings: Settings, message: EmailMessage, path: str) -> str:
    """The token of the one ``{public_url}{path}?token=...`` link of a mail's text part;
    the HTML part must carry the same link."""
    text, html = parts(message)
    prefix = f"{settings.public_url}{path}?"
    links = [word for word in text.split() if word.startswith(prefix)]
    assert len(links) == 1, text
    query = parse_qs(urlsplit(links[0]).query)
    assert list(query) == ["token"], links[0]
    token = query["token"][0]
    assert f'href="{links[0]}"' in html, html
    return token


def read_zip(body: bytes) -> dict[str, Any]:
    """Every JSON member of an archive, parsed, by name (after checking it is UTF-8)."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {name: json.loads(archive.read(name).decode("utf-8")) for name in archive.namelist()}


def zip_bytes(body: bytes) -> dict[str, bytes]:
    """The uncompressed bytes of every member of an archive, by name."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


PROJECT_CREATE = """
mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id key } } }
"""
PROJECT_ARCHIVE = """
mutation($id: ID!) { projectUpdate(id: $id, input: {archived: true}) { project { id } } }
"""
ISSUE_CREATE = """
mutation($input: IssueCreateInput!) { issueCreate(input: $input) { issue { id key } } }
"""
COMMENT_CREATE = """
mutation($input: CommentCreateInput!) { commentCreate(input: $input) { comment { id } } }
"""
COMMENT_DELETE = "mutation($id: ID!) { commentDelete(id: $id) { deletedId } }"
TIME_ENTRY_CREATE = """
mutation($input: TimeEntryCreateInput!) { timeEntryCreate(input: $input) { timeEntry { id } } }
"""


async def create_project(client: Client, key: str, name: str, **fields: Any) -> str:
    data = await client.gql(PROJECT_CREATE, {"input": {"key": key, "name": name, **fields}})
    project_id: str = data["projectCreate"]["project"]["id"]
    return project_id


async def create_issue(client: Client, project_id: str, title: str, **fields: Any) -> str:
    data = await client.gql(
        ISSUE_CREATE, {"input": {"projectId": project_id, "title": title, **fields}}
    )
    issue_id: str = data["issueCreate"]["issue"]["id"]
    return issue_id


async def comment(client: Client, issue_id: str, body: str) -> str:
    data = await client.gql(COMMENT_CREATE, {"input": {"issueId": issue_id, "body": body}})
    comment_id: str = data["commentCreate"]["comment"]["id"]
    return comment_id


async def log_time(client: Client, issue_id: str, seconds: int, **fields: Any) -> str:
    data = await client.gql(
        TIME_ENTRY_CREATE,
        {
            "input": {
                "issueId": issue_id,
                "startedAt": "2026-03-02T09:00:00+00:00",
                "durationSeconds": seconds,
                **fields,
            }
        },
    )
    entry_id: str = data["timeEntryCreate"]["timeEntry"]["id"]
    return entry_id


async def download(client: Client, settings: Settings, url: str) -> Any:
    """GET a download URL (absolute, under public_url) through the test transport."""
    assert url.startswith(f"{settings.public_url}/exports/"), url
    return await client.http.get(url.removeprefix(settings.public_url))
