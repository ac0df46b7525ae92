"""API keys: ``ltk_`` + 30 base62 characters (178 random bits) + a 6-character CRC32.

The checksum lets a key be recognised (and a mistyped or forged one refused) without
touching the database; only the SHA-256 of the whole secret is stored, with its prefix.
"""

from __future__ import annotations

import secrets
import string
import uuid
import zlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cache

from lightningtrack import clock
from lightningtrack.errors import BadUserInput, NotFound, Unauthenticated
from lightningtrack.models import joins
from lightningtrack.models.landlord import Account, ApiKey, Membership, Role, Workspace
from lightningtrack.resolvers import ids, permissions, tokens, validation

PREFIX = "ltk_"
ALPHABET = string.digits + string.ascii_letters
BODY_LENGTH = 30
CHECK_LENGTH = 6
SECRET_LENGTH = len(PREFIX) + BODY_LENGTH + CHECK_LENGTH
SHOWN_PREFIX = 12  # "ltk_" and 8 characters: enough to recognise a key in a list
TOUCH_INTERVAL = timedelta(minutes=5)
TYPE = "ApiKey"


class ApiKeyScope(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    ADMIN = "ADMIN"


# The most a key of these scopes can do, as a role (never more than its creator's role).
SCOPE_ROLE = {
    ApiKeyScope.READ: Role.GUEST,
    ApiKeyScope.WRITE: Role.MEMBER,
    ApiKeyScope.ADMIN: Role.ADMIN,
}


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECK_LENGTH)


def new_secret() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"{PREFIX}{body}{_checksum(body)}"


def well_formed(secret: str) -> bool:
    """Prefix, length, alphabet and checksum: all checked before any lookup."""
    if len(secret) != SECRET_LENGTH or not secret.startswith(PREFIX):
        return False
    body = secret[len(PREFIX) : len(PREFIX) + BODY_LENGTH]
    check = secret[len(PREFIX) + BODY_LENGTH :]
    if any(c not in ALPHABET for c in body + check):
        return False
    return secrets.compare_digest(_checksum(body), check)


def global_id(key: ApiKey) -> str:
    return ids.encode(TYPE, key.id)


def scopes_of(key: ApiKey) -> list[ApiKeyScope]:
    return [ApiKeyScope(s) for s in key.scopes.split(",") if s]


def effective_role(key: ApiKey, creator_role: Role) -> Role:
    """What the key may do: its widest scope's role, capped by its creator's role now."""
    widest = max((SCOPE_ROLE[s] for s in scopes_of(key)), key=permissions.rank)
    return min(widest, Role(creator_role), key=permissions.rank)


@dataclass
class KeyAuth:
    key: ApiKey
    membership: Membership


@cache
def _lookup_sql() -> str:
    # The key, its workspace, and its creator's membership and account in one round trip.
    # Inner joins: a key stops working when the person who made it leaves the workspace.
    # Only column names and a placeholder are interpolated; the secret is a parameter.
    return (
        f"SELECT {joins.select_list(ApiKey, 'k')}, {joins.select_list(Workspace, 'w')},"  # noqa: S608
        f" {joins.select_list(Membership, 'm')}, {joins.select_list(Account, 'a')}"
        " FROM api_key k JOIN workspace w ON w.id = k.workspace_id"
        " JOIN membership m ON m.workspace_id = k.workspace_id AND m.account_id = k.created_by_id"
        " JOIN account a ON a.id = m.account_id"
        f" WHERE k.secret_hash = {joins.parameter(ApiKey, 1)}"
    )


async def authenticate(secret: str) -> KeyAuth:
    """The key and the membership it acts with; UNAUTHENTICATED for anything else."""
    if not well_formed(secret):
        raise Unauthenticated("This API key is not valid.")
    rows = await joins.fetch(ApiKey, _lookup_sql(), [tokens.digest(secret)])
    if not rows:
        raise Unauthenticated("This API key is not valid.")
    row = rows[0]
    key = joins.hydrate(ApiKey, row, "k")
    if key.revoked_at is not None:
        raise Unauthenticated("This API key is not valid.")
    workspace = joins.hydrate(Workspace, row, "w")
    creator = joins.hydrate(Membership, row, "m")
    key.workspace = workspace
    creator.workspace = workspace
    creator.account = joins.hydrate(Account, row, "a")
    # In memory only, for this request: the key acts with the narrower of the two roles.
    creator.role = effective_role(key, Role(creator.role))
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_INTERVAL:
        await ApiKey.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now
    return KeyAuth(key, creator)


async def create(membership: Membership, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    permissions.require_role(membership, Role.ADMIN)
    clean_name = validation.text(name, "input.name", minimum=1, maximum=100)
    if not scopes:
        raise BadUserInput("Give at least one scope.", field="input.scopes")
    chosen = sorted({ApiKeyScope(s) for s in scopes}, key=list(ApiKeyScope).index)
    secret = new_secret()
    key = await ApiKey.create(
        id=uuid.uuid4(),
        workspace_id=membership.workspace_id,
        created_by_id=membership.account_id,
        name=clean_name,
        prefix=secret[:SHOWN_PREFIX],
        secret_hash=tokens.digest(secret),
        scopes=",".join(s.value for s in chosen),
    )
    return key, secret


async def list_keys(membership: Membership) -> list[ApiKey]:
    permissions.require_role(membership, Role.ADMIN)
    return list(await ApiKey.filter(workspace_id=membership.workspace_id).order_by("created_at"))


async def revoke(membership: Membership, global_id: str) -> ApiKey:
    permissions.require_role(membership, Role.ADMIN)
    key = await ApiKey.get_or_none(
        id=ids.decode_uuid(global_id, TYPE), workspace_id=membership.workspace_id
    )
    if key is None:
        raise NotFound("No ApiKey with this id.")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        await key.save(update_fields=["revoked_at"])
    return key
