"""The encrypted backup file: a streamed, chunked AES-256-GCM format.

Layout: ``MAGIC``, a 4-byte header length, a JSON header (what the file holds, public),
then chunks, each a 4-byte length and its ciphertext. Every file has a key of its own,
derived with HKDF-SHA256 from ``LT_BACKUP_KEY`` and a random salt in the header. Chunk
``i`` is sealed with the nonce ``prefix || i || last`` (the STREAM construction) and the
header's digest as associated data, so a changed header, a reordered, dropped or
repeated chunk, a file cut short after any chunk or data appended after the last one
all fail to open, and memory stays at one chunk whatever the database's size.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"LTBACKUP\x01"
CHUNK_SIZE = 1 << 20
_TAG = 16
_MAX_HEADER = 64 * 1024
_LENGTH = struct.Struct(">I")


class BackupError(Exception):
    """A backup that cannot be written or read; the message says why, in one sentence."""


class BackupKeyMismatch(BackupError):
    pass


def _derive(key: str, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key.encode())


def key_id(key: str) -> str:
    """A public fingerprint of the key, so that a file names the key that opens it."""
    return _derive(key, b"", b"lightningtrack backup key id").hex()[:16]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


@dataclass
class _Sealer:
    aead: AESGCM
    prefix: bytes
    aad: bytes
    index: int = 0

    def seal(self, chunk: bytes, last: bool) -> bytes:
        sealed = self.aead.encrypt(_nonce(self.prefix, self.index, last), chunk, self.aad)
        self.index += 1
        return _LENGTH.pack(len(sealed)) + sealed


def write(
    path: Path,
    chunks: Iterable[bytes],
    key: str,
    metadata: dict[str, Any],
    chunk_size: int = CHUNK_SIZE,
) -> tuple[int, str]:
    """Encrypt ``chunks`` into ``path`` (atomically: a ``.partial`` renamed when
    complete, mode 0600); returns the file's size and SHA-256."""
    salt, prefix = os.urandom(32), os.urandom(7)
    header = json.dumps(
        {
            **metadata,
            "format": 1,
            "chunkSize": chunk_size,
            "keyId": key_id(key),
            "salt": salt.hex(),
            "nonce": prefix.hex(),
        },
        sort_keys=True,
    ).encode()
    head = MAGIC + _LENGTH.pack(len(header)) + header
    sealer = _Sealer(
        AESGCM(_derive(key, salt, b"lightningtrack backup v1")),
        prefix,
        hashlib.sha256(head).digest(),
    )
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:

            def emit(data: bytes) -> None:
                nonlocal size
                out.write(data)
                digest.update(data)
                size += len(data)

            emit(head)
            buffer = bytearray()
            for piece in chunks:
                buffer += piece
                # Hold back at least one byte: the last chunk is sealed as the last.
                while len(buffer) > chunk_size:
                    emit(sealer.seal(bytes(buffer[:chunk_size]), last=False))
                    del buffer[:chunk_size]
            emit(sealer.seal(bytes(buffer), last=True))
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def _read_exact(handle: IO[bytes], count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise BackupError("The backup file is truncated.")
    return data


def read_header(handle: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise BackupError("This is not a LightningTrack backup file.")
    (length,) = _LENGTH.unpack(_read_exact(handle, 4))
    if length > _MAX_HEADER:
        raise BackupError("The backup file's header is damaged.")
    header = _read_exact(handle, length)
    try:
        metadata: dict[str, Any] = json.loads(header)
    except ValueError:
        raise BackupError("The backup file's header is damaged.") from None
    return metadata, MAGIC + _LENGTH.pack(length) + header


def metadata_of(path: Path) -> dict[str, Any]:
    """The public header of a backup file (not authenticated until the file is read)."""
    with path.open("rb") as handle:
        return read_header(handle)[0]


def read(path: Path, key: str) -> tuple[dict[str, Any], Iterator[bytes]]:
    """The header and the decrypted chunks of a backup; the iterator raises
    ``BackupError`` at the first chunk that does not authenticate. The file is opened
    again by the iterator, which checks that the header it reads is the one returned."""
    with path.open("rb") as handle:
        metadata, head = read_header(handle)
    if metadata.get("keyId") != key_id(key):
        raise BackupKeyMismatch(
            f"This backup was encrypted with key {metadata.get('keyId')}, and "
            f"LT_BACKUP_KEY is key {key_id(key)}."
        )
    try:
        salt, prefix = bytes.fromhex(metadata["salt"]), bytes.fromhex(metadata["nonce"])
        chunk_limit = int(metadata.get("chunkSize", CHUNK_SIZE)) + _TAG
    except (KeyError, TypeError, ValueError):
        raise BackupError("The backup file's header is damaged.") from None
    aead = AESGCM(_derive(key, salt, b"lightningtrack backup v1"))
    aad = hashlib.sha256(head).digest()

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            if read_header(handle)[1] != head:
                raise BackupError("The backup file changed while it was read.")
            index = 0
            length_bytes = handle.read(4)
            while True:
                if len(length_bytes) != 4:
                    raise BackupError("The backup file is truncated.")
                (length,) = _LENGTH.unpack(length_bytes)
                if length > chunk_limit:
                    raise BackupError("The backup file is damaged.")
                sealed = _read_exact(handle, length)
                length_bytes = handle.read(4)
                last = not length_bytes
                try:
                    yield aead.decrypt(_nonce(prefix, index, last), sealed, aad)
                except InvalidTag:
                    raise BackupError(
                        "The backup file is damaged, truncated or was altered."
                    ) from None
                if last:
                    return
                index += 1

    return metadata, chunks()
