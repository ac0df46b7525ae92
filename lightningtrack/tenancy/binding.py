"""The binding of a task to one workspace database.

Tortoise keeps its alias-to-client mapping in a context variable: setting the
``workspace`` alias swaps the client for this task and the tasks it starts, and resetting
the token restores whatever was there before (the unbound client). ``bound`` does both,
on every path out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from tortoise.connection import get_connections

from lightningtrack.errors import WorkspaceNotBound
from lightningtrack.tenancy.config import WORKSPACE

if TYPE_CHECKING:
    from tortoise.backends.base.client import BaseDBAsyncClient

_bound_workspace: ContextVar[uuid.UUID | None] = ContextVar("lt_bound_workspace", default=None)


@contextmanager
def bound(workspace_id: uuid.UUID, client: BaseDBAsyncClient) -> Iterator[BaseDBAsyncClient]:
    """Bind ``client`` as the workspace database of the current task while inside."""
    handler = get_connections()
    connection_token = handler.set(WORKSPACE, client)
    workspace_token = _bound_workspace.set(workspace_id)
    try:
        yield client
    finally:
        _bound_workspace.reset(workspace_token)
        handler.reset(connection_token)


def bound_workspace_id() -> uuid.UUID:
    """The id of the workspace bound to this task; raises when none is."""
    workspace_id = _bound_workspace.get()
    if workspace_id is None:
        raise WorkspaceNotBound("no workspace database is bound to this task")
    return workspace_id


def is_bound() -> bool:
    return _bound_workspace.get() is not None
