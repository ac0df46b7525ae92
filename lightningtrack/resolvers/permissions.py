"""Who may do what in a workspace.

| action                                          | GUEST | MEMBER   | ADMIN | OWNER |
| ----------------------------------------------- | ----- | -------- | ----- | ----- |
| read everything in the workspace                | yes   | yes      | yes   | yes   |
| create and edit issues                          |       | yes      | yes   | yes   |
| create comments and time entries                |       | yes      | yes   | yes   |
| edit or delete comments and time entries        |       | own only | yes   | yes   |
| delete issues                                   |       |          | yes   | yes   |
| create, edit, archive and delete projects       |       |          | yes   | yes   |

A workspace whose trial expired or whose subscription ended is read-only for everyone:
every write answers PAYMENT_REQUIRED.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from lightningtrack.errors import Forbidden, PaymentRequired
from lightningtrack.models.landlord import Role, WorkspaceStatus

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

_RANK = {Role.GUEST: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
READ_ONLY_STATUSES = frozenset({WorkspaceStatus.TRIAL_EXPIRED, WorkspaceStatus.CANCELLED})


def rank(role: Role) -> int:
    return _RANK[Role(role)]


def has_role(membership: Membership, minimum: Role) -> bool:
    return _RANK[Role(membership.role)] >= _RANK[minimum]


def require_role(membership: Membership, minimum: Role) -> None:
    if not has_role(membership, minimum):
        raise Forbidden(f"This needs the {minimum.value} role or higher.")


def require_writable(membership: Membership) -> None:
    if membership.workspace.status in READ_ONLY_STATUSES:
        raise PaymentRequired("This workspace is read-only until its subscription is renewed.")


def require_write(membership: Membership, minimum: Role = Role.MEMBER) -> None:
    """A change to workspace data: the role first, then the workspace's standing."""
    require_role(membership, minimum)
    require_writable(membership)


def require_author_or_admin(membership: Membership, author_id: uuid.UUID | None) -> None:
    """Editing or deleting a comment or time entry: its author (MEMBER+) or an ADMIN."""
    require_write(membership)
    if has_role(membership, Role.ADMIN):
        return
    if author_id is None or author_id != membership.account_id:
        raise Forbidden("Only its author or an admin may change this.")
