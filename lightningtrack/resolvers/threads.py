"""The mail thread of an issue: one Message-ID names it, ``<issue-<id>.<workspace>@<host>>``.

Every notification about the issue names it in ``In-Reply-To`` and ``References``, so a
mail client keeps them together and a reply carries it back; the poller reads it to
find the issue a reply belongs to.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from lightningtrack.settings import Settings

_THREAD = re.compile(r"^<issue-(\d{1,18})\.([0-9a-f]{32})@[^<>\s]+>$")


def thread_id(settings: Settings, workspace_id: uuid.UUID, issue_id: int) -> str:
    """The Message-ID of an issue's notification thread: mails about the issue carry it
    (as their thread root) and replies to them name it."""
    host = urlsplit(settings.public_url).hostname or "localhost"
    return f"<issue-{issue_id}.{workspace_id.hex}@{host}>"


def issue_of(reference: str, workspace_id: uuid.UUID) -> int | None:
    """The id of the issue whose thread ``reference`` names, if it is one of this workspace."""
    match = _THREAD.match(reference)
    if match and match.group(2) == workspace_id.hex:
        return int(match.group(1))
    return None
