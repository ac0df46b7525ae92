"""Encryption at rest of the credentials a workspace gives us (IMAP passwords).

AES-256-GCM with a key derived from the server's secret key by HKDF-SHA256, so the
database alone (a dump, a backup) does not reveal them. The workspace id is bound in as
associated data: a ciphertext copied into another workspace does not decrypt there.
Changing ``LT_SECRET_KEY`` makes stored passwords unreadable; they must be entered again.
"""

from __future__ import annotations

import base64
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lightningtrack.settings import Settings

VERSION = "v1"
_INFO = b"lightningtrack email source credentials v1"


class CredentialUnreadable(Exception):
    """The stored secret does not decrypt with this server's key."""


def _key(settings: Settings) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(settings.secret_key.encode())


def _context(workspace_id: uuid.UUID) -> bytes:
    return f"workspace:{workspace_id}".encode()


def encrypt(settings: Settings, workspace_id: uuid.UUID, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, secret.encode(), _context(workspace_id))
    return f"{VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(settings: Settings, workspace_id: uuid.UUID, stored: str) -> str:
    version, _, payload = stored.partition(":")
    if version != VERSION:
        raise CredentialUnreadable("unknown format")
    try:
        raw = base64.b64decode(payload)
        opened = AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], _context(workspace_id))
    except (InvalidTag, ValueError) as error:
        raise CredentialUnreadable("does not decrypt with this server's key") from error
    return opened.decode()
