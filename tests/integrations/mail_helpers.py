"""Messages and GraphQL documents of the email source tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from tests.conftest import Client
from tests.integrations.imap_server import Mailbox

SOURCE = """id name address enabled lastPolledAt lastError createdAt imapHost imapPort
username useTls startTls notifySenders folder project { id key }"""
SOURCE_CREATE = f"""
mutation($input: EmailSourceCreateInput!) {{
  emailSourceCreate(input: $input) {{ emailSource {{ {SOURCE} }} }}
}}
"""
SOURCE_UPDATE = f"""
mutation($id: ID!, $input: EmailSourceUpdateInput!) {{
  emailSourceUpdate(id: $id, input: $input) {{ emailSource {{ {SOURCE} }} }}
}}
"""
SOURCE_DELETE = "mutation($id: ID!) { emailSourceDelete(id: $id) { deletedId } }"
SOURCE_POLL = f"mutation($id: ID!) {{ emailSourcePoll(id: $id) {{ {SOURCE} }} }}"
SOURCES = f"{{ emailSources {{ {SOURCE} }} }}"
ISSUES = """
query($project: ID) {
  issues(first: 20, filter: {projectId: $project}, orderBy: {field: NUMBER, direction: ASC}) {
    totalCount
    nodes {
      id key number title description labels creator { id }
      comments(first: 10) { nodes { body author { id } } }
    }
  }
}
"""


def message(
    subject: str,
    text: str | None = "Hello,\nthe export button does nothing.\n",
    *,
    sender: str = "Carla Customer <carla@customer.example>",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
) -> tuple[bytes, str]:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@acme.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    if text is not None:
        mail.set_content(text)
        if html is not None:
            mail.add_alternative(html, subtype="html")
    elif html is not None:
        mail.set_content(html, subtype="html")
    return bytes(mail), str(mail["Message-ID"])


async def create_source(
    client: Client, mailbox: Mailbox, project_id: str, **extra: Any
) -> dict[str, Any]:
    data = await client.gql(
        SOURCE_CREATE,
        {
            "input": {
                "name": "Support",
                "projectId": project_id,
                "address": "support@acme.example",
                "imapHost": mailbox.host,
                "imapPort": mailbox.port,
                "username": mailbox.username,
                "password": mailbox.password,
                "useTls": False,
                **extra,
            }
        },
    )
    source: dict[str, Any] = data["emailSourceCreate"]["emailSource"]
    return source


async def poll(client: Client, source_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.gql(SOURCE_POLL, {"id": source_id}))["emailSourcePoll"]
    return found


async def issues_of(client: Client, project_id: str) -> list[dict[str, Any]]:
    data = await client.gql(ISSUES, {"project": project_id})
    nodes: list[dict[str, Any]] = data["issues"]["nodes"]
    return nodes
