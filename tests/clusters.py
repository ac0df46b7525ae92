"""A second PostgreSQL server for a test run: a throw-away cluster on a free loopback port.

``initdb`` refuses to run as root, so as root (CI, the development machines) the cluster
belongs to the ``postgres`` system user and every command runs through ``runuser``. It
lives in a temporary folder of its own, listens on 127.0.0.1 only with trust
authentication, and is stopped and deleted on every way out of the ``with`` block,
whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

START_ATTEMPTS = 3


class ClusterUnavailable(RuntimeError):
    """This machine cannot start a PostgreSQL server (no binaries, no postgres user)."""


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise ClusterUnavailable("no initdb: install PostgreSQL's server package")
    return Path(candidates[-1]).parent


def _as_root() -> bool:
    return os.geteuid() == 0


def unavailable_reason() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    try:
        _bindir()
    except ClusterUnavailable as error:
        return str(error)
    if _as_root():
        if shutil.which("runuser") is None:
            return "running as root without runuser to start PostgreSQL as postgres"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if _as_root():
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
        command, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a fresh cluster; yield its URL (``postgres://postgres@127.0.0.1:PORT``)."""
    reason = unavailable_reason()
    if reason is not None:
        raise ClusterUnavailable(reason)
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="lt-pgcluster-"))
    data = root / "data"
    started = False
    try:
        if _as_root():
            shutil.chown(root, "postgres", "postgres")
        done = _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        if done.returncode != 0:
            raise ClusterUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            done = _run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            if done.returncode == 0:
                started = True
                break
        if not started:
            log = (root / "server.log").read_text(errors="replace")[-800:]
            raise ClusterUnavailable(f"the cluster did not start: {log}")
        yield f"postgres://postgres@127.0.0.1:{port}"
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
