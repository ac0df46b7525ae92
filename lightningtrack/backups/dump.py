"""A database as a stream of bytes, and a stream of bytes as a new database.

PostgreSQL: ``pg_dump --format=custom`` out, ``pg_restore`` in, both streamed through
pipes. SQLite: the online backup API copies a consistent snapshot while others write,
into a private temporary file that is read in chunks and removed. These functions block:
callers run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from lightningtrack.backups.archive import BackupError
from lightningtrack.settings import DatabaseURL

READ_SIZE = 256 * 1024


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian's postgresql-client package).")
    return found


def _pg_arguments(url: DatabaseURL) -> tuple[list[str], dict[str, str]]:
    args = ["-h", url.host, "-p", str(url.port), "-d", str(url.database)]
    if url.user:
        args += ["-U", url.user]
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password  # never on the command line, where ps shows it
    if url.sslmode:
        env["PGSSLMODE"] = url.sslmode
    return args, env


def _stderr_tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    text = handle.read()[-2000:].decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no message"


def dump(url: DatabaseURL) -> Iterator[bytes]:
    """The database's contents as chunks of a dump (custom format, or the SQLite file)."""
    if url.engine == "sqlite":
        yield from _sqlite_snapshot(Path(url.path))
        return
    args, env = _pg_arguments(url)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
            [_tool("pg_dump"), "--format=custom", "--compress=6", *args],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        assert process.stdout is not None
        try:
            while chunk := process.stdout.read(READ_SIZE):
                yield chunk
        finally:
            process.stdout.close()
            code = process.wait()
        if code != 0:
            raise BackupError(f"pg_dump of {url.database} failed: {_stderr_tail(errors)}")


def _sqlite_snapshot(source: Path) -> Iterator[bytes]:
    if not source.exists():
        raise BackupError(f"The database file {source} does not exist.")
    with tempfile.TemporaryDirectory(prefix="lt-backup-") as folder:
        copy = Path(folder) / "snapshot.sqlite3"
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        try:
            # Page by page, so that writers are not held up for the whole copy.
            src.backup(dst, pages=1024)
        finally:
            dst.close()
            src.close()
        with copy.open("rb") as handle:
            while chunk := handle.read(READ_SIZE):
                yield chunk


def restore(url: DatabaseURL, chunks: Iterable[bytes]) -> None:
    """Load a dump into ``url``: an empty PostgreSQL database that exists, or a SQLite
    file that must not exist yet (written aside and renamed into place when whole)."""
    if url.engine == "sqlite":
        _sqlite_restore(Path(url.path), chunks)
        return
    args, env = _pg_arguments(url)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
            [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", *args],
            stdin=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        assert process.stdin is not None
        try:
            for chunk in chunks:
                process.stdin.write(chunk)
            process.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped early; its exit code and message say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            raise BackupError(f"pg_restore into {url.database} failed: {_stderr_tail(errors)}")


def _sqlite_restore(target: Path, chunks: Iterable[bytes]) -> None:
    if target.exists():
        raise BackupError(f"{target} already exists: a restore never overwrites a database.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        check = sqlite3.connect(partial)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError as error:
            raise BackupError(f"The restored file is not a database: {error}.") from None
        finally:
            check.close()
        if not verdict or verdict[0] != "ok":
            raise BackupError(f"The restored database fails its integrity check: {verdict}.")
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
