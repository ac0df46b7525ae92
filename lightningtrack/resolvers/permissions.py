"""Who may do what in a workspace.

| action                                          | GUEST | MEMBER   | ADMIN | OWNER |
| ----------------------------------------------- | ----- | -------- | ----- | ----- |
| read everything in the workspace                | yes   | yes      | yes   | yes   |
| create and edit issues                          |       | yes      | yes   | yes   |
| create comments and time entries                |       | yes      | yes   | yes   |
| edit or delete comments and time entries        |       | own only | yes   | yes   |
| delete issues                                   |       |          | yes   | yes   |
| create, edit, archive and delete projects       |       |          | yes   | yes   |

A workspace whose trial expired, whose subscription ended, or whose subscription Stripe
stopped collecting (unpaid after every retry, or paused) is read-only for everyone: every
write answers PAYMENT_REQUIRED.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from lightningtrack.errors import Forbidden, PaymentRequired
from lightningtrack.models.landlord import Role, WorkspaceStatus

if TYPE_CHECKING:
    from lightningtrack.models.landlord import Membership

_RANK = {Role.GUEST: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
_READ_ONLY = {
    WorkspaceStatus.TRIAL_EXPIRED: "until a plan is chosen",
    WorkspaceStatus.CANCELLED: "until its subscription is renewed",
    WorkspaceStatus.UNPAID: "until its unpaid invoice is paid",
    WorkspaceStatus.PAUSED: "while its subscription is paused",
}
READ_ONLY_STATUSES = frozenset(_READ_ONLY)


def rank(role: Role) -> int:
    return _RANK[Role(role)]


def has_role(membership: Membership, minimum: Role) -> bool:
    return _RANK[Role(membership.role)] >= _RANK[minimum]


def require_role(membership: Membership, minimum: Role) -> None:
    if not has_role(membership, minimum):
        raise Forbidden(f"This needs the {minimum.value} role or higher.")


def require_writable(membership: Membership) -> None:
    until = _READ_ONLY.get(WorkspaceStatus(membership.workspace.status))
    if until is not None:
        raise PaymentRequired(f"This workspace is read-only {until}.")


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
