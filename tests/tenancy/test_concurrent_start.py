"""Several processes starting at once on an empty installation (``serve --workers N``)
must not trip over each other's migrations."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg

from lightningtrack.settings import Settings
from lightningtrack.tenancy.runtime import Tenancy
from tests.conftest import BACKEND, POSTGRES_URL, environment_for

ROOT = Path(__file__).resolve().parents[2]
NEWEST_LANDLORD = max(
    p.stem for p in (ROOT / "lightningtrack" / "migrations" / "landlord").glob("0*.py")
)


async def test_three_processes_migrating_a_new_installation_at_once_all_succeed(
    settings: Settings, tenancy: Tenancy, run_prefix: str, tmp_path: Path
) -> None:
    """Each process migrates the landlord and the template under one lock, so none sees a
    half-made schema or creates a table another already made. (``tenancy`` is asked for
    its teardown: it drops every database named after the run, these included.)"""
    landlord = f"{run_prefix}_fresh"
    if BACKEND == "postgres":
        conn = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{landlord}"')
        finally:
            await conn.close()
    env = {**os.environ, **environment_for(tmp_path / "fresh", landlord)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lightningtrack",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()
        assert f"landlord: {NEWEST_LANDLORD}" in out.decode()
        assert "Traceback" not in err.decode()
    if BACKEND == "sqlite":
        assert (tmp_path / "fresh" / "workspaces" / "lt_template.sqlite3").exists()
    else:
        conn = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", landlord
            )
        finally:
            await conn.close()
        assert {r["datname"] for r in names} == {landlord, f"{landlord}_template"}
