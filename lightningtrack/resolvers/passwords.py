"""Password hashing: argon2id, computed off the event loop, rehashed when parameters change.

bcrypt hashes (from an import) are verified and replaced by argon2id on sign-in.
"""

from __future__ import annotations

import asyncio
import functools

import bcrypt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lightningtrack.errors import BadUserInput

MIN_LENGTH = 8
MAX_LENGTH = 256

# OWASP's argon2id baseline: 19 MiB of memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def validate_password(password: str, field: str = "password") -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise BadUserInput(
            f"A password must be {MIN_LENGTH} to {MAX_LENGTH} characters long.", field=field
        )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has")


def _verify(stored: str, password: str) -> tuple[bool, bool]:
    """(matches, needs a new hash)."""
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        try:
            return bcrypt.checkpw(password.encode(), stored.encode()), True
        except ValueError:
            return False, False
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _hasher.check_needs_rehash(stored)


async def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Check a password; returns (matches, new hash to store or None).

    With no stored hash (unknown account) a dummy hash is verified all the same, so that
    an unknown email takes as long as a wrong password.
    """
    if stored is None:
        await asyncio.to_thread(_verify, _dummy_hash(), password)
        return False, None
    matches, stale = await asyncio.to_thread(_verify, stored, password)
    if matches and stale:
        return True, await hash_password(password)
    return matches, None
