"""Email sources: mailboxes whose new messages become issues (and replies, comments).

Every member may list them (name, address, project, mailbox settings, state); only
ADMIN and OWNER create, change, delete or poll them. The password is encrypted at rest
(``credentials``) and never returned, not even in exports. In production the IMAP host
must resolve to a public address and the connection must use TLS.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, NotFound
from lightningtrack.models.integrations import EmailSource
from lightningtrack.models.landlord import Role
from lightningtrack.models.workspace import Project
from lightningtrack.resolvers import credentials, ids, permissions, projects, schedule, targets
from lightningtrack.resolvers import validation as valid
from lightningtrack.resolvers.effects import defer
from lightningtrack.tenancy.binding import bound_workspace_id

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership
    from lightningtrack.settings import Settings

TYPE = "EmailSource"
MAX_SOURCES = 20
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]{2,45}\]?$")
_ADDRESS = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,255}$")


def global_id(source: EmailSource) -> str:
    return ids.encode_scoped(TYPE, bound_workspace_id(), source.id)


async def get(global_id: str) -> EmailSource:
    source = await EmailSource.get_or_none(
        id=ids.decode_scoped(global_id, TYPE, bound_workspace_id())
    ).select_related("project")
    if source is None:
        raise NotFound("No EmailSource with this id.")
    return source


async def list_all() -> list[EmailSource]:
    return await EmailSource.all().order_by("id").select_related("project")


async def _project(global_id: str, field: str) -> int:
    try:
        pk = projects.decode(global_id)
    except NotFound:
        raise NotFound("No Project with this id.", field=field) from None
    if not await Project.exists(id=pk):
        raise NotFound("No Project with this id.", field=field)
    return pk


async def _server(settings: Settings, host: str, port: int, use_tls: bool) -> str:
    clean = host.strip().lower()
    if not _HOST.fullmatch(clean):
        raise BadUserInput("Not a host name or address.", field="input.imapHost")
    clean = clean.strip("[]")
    if settings.production:
        if not use_tls:
            raise BadUserInput("IMAP without TLS is refused in production.", field="input.useTls")
        try:
            await targets.pick_address(settings, clean, port)
        except targets.TargetRefused as refusal:
            raise BadUserInput(str(refusal), field="input.imapHost") from None
    return clean


def _password(value: str, field: str) -> str:
    if not value or len(value) > 1000 or "\x00" in value:
        raise BadUserInput("A password of 1 to 1000 characters.", field=field)
    return value


async def create(settings: Settings, membership: Membership, data: dict[str, Any]) -> EmailSource:
    permissions.require_write(membership, Role.ADMIN)
    name = valid.text(data["name"], "input.name", minimum=1, maximum=100)
    address = data["address"].strip()
    if not _ADDRESS.fullmatch(address):
        raise BadUserInput("Not an email address.", field="input.address")
    project = await _project(data["project_id"], "input.projectId")
    use_tls = True if data.get("use_tls") is None else bool(data["use_tls"])
    starttls = bool(data.get("start_tls"))
    if starttls and not use_tls:
        raise BadUserInput(
            "STARTTLS is a way of using TLS: leave useTls on.", field="input.startTls"
        )
    port = data.get("imap_port") or (993 if use_tls and not starttls else 143)
    valid.integer(port, "input.imapPort", minimum=1, maximum=65535)
    host = await _server(settings, data["imap_host"], port, use_tls)
    username = valid.text(data["username"], "input.username", minimum=1, maximum=320)
    folder = valid.text(data.get("folder") or "INBOX", "input.folder", minimum=1, maximum=200)
    password = _password(data["password"], "input.password")
    if await EmailSource.all().count() >= MAX_SOURCES:
        raise BadUserInput(
            f"A workspace has at most {MAX_SOURCES} email sources.", field="input.name"
        )
    source = await EmailSource.create(
        name=name,
        address=address,
        project_id=project,
        imap_host=host,
        imap_port=port,
        username=username,
        password_encrypted=credentials.encrypt(settings, bound_workspace_id(), password),
        use_tls=use_tls,
        starttls=starttls,
        notify_senders=bool(data.get("notify_senders")),
        folder=folder,
    )
    await _due_now(source)
    return await get(global_id(source))


async def _due_now(source: EmailSource) -> None:
    """Poll soon: marked in the landlord, and a job deferred for after the commit."""
    await schedule.mark_due(bound_workspace_id(), schedule.EMAIL, clock.now())
    defer("poll_email_sources", bound_workspace_id())


async def update(
    settings: Settings, membership: Membership, global_id: str, changes: dict[str, Any]
) -> EmailSource:
    permissions.require_write(membership, Role.ADMIN)
    source = await get(global_id)
    values: dict[str, Any] = {}
    if "name" in changes:
        valid.required(changes["name"], "input.name")
        values["name"] = valid.text(changes["name"], "input.name", minimum=1, maximum=100)
    if "project_id" in changes:
        valid.required(changes["project_id"], "input.projectId")
        values["project_id"] = await _project(changes["project_id"], "input.projectId")
    if "password" in changes:
        valid.required(changes["password"], "input.password")
        secret = _password(changes["password"], "input.password")
        values["password_encrypted"] = credentials.encrypt(settings, bound_workspace_id(), secret)
    if "enabled" in changes:
        valid.required(changes["enabled"], "input.enabled")
        values["enabled"] = bool(changes["enabled"])
    if "notify_senders" in changes:
        valid.required(changes["notify_senders"], "input.notifySenders")
        values["notify_senders"] = bool(changes["notify_senders"])
    if values:
        await EmailSource.filter(id=source.id).update(**values)
    if values.get("enabled") or "password_encrypted" in values:
        await EmailSource.filter(id=source.id).update(next_poll_at=None)
        await _due_now(source)
    return await get(global_id)


async def delete(membership: Membership, global_id: str) -> str:
    permissions.require_write(membership, Role.ADMIN)
    source = await get(global_id)
    await source.delete()
    return global_id
