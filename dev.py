#!/usr/bin/env python3
"""Developer entry point: needs only Python 3.11+.

    python3 dev.py serve      serve the API on the embedded default (./var, SQLite)
    python3 dev.py test       run the whole test suite (SQLite, then PostgreSQL)
    python3 dev.py check      lint, types, import layers, schema.graphql up to date
    python3 dev.py bench      the performance harness (see bench/README.md)
    python3 dev.py bench --scale   1,000 workspaces on one PostgreSQL server

The first run creates ``.venv`` from ``uv.lock`` (uv itself is installed into ``.tools``).
Extra arguments after ``test`` go to pytest, e.g. ``python3 dev.py test -k session``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import venv
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"
UV_VERSION = "uv>=0.8,<1"


def _bin(env: Path, name: str) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / name


def run(*args: object, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def ensure_env() -> None:
    uv = _bin(TOOLS, "uv")
    if not uv.exists():
        print("dev.py: installing uv into .tools", flush=True)
        venv.create(TOOLS, with_pip=True)
        if run(_bin(TOOLS, "python"), "-m", "pip", "install", "-q", UV_VERSION):
            sys.exit("dev.py: could not install uv")
    code = run(uv, "sync", "--frozen", "--quiet", "--python", sys.executable)
    if code:
        sys.exit("dev.py: could not install the project from uv.lock")


def postgres_reachable() -> bool:
    url = urlsplit(os.environ.get("LT_TEST_POSTGRES_URL", "postgres://127.0.0.1:5432"))
    host, port = url.hostname or "127.0.0.1", url.port or 5432
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test(extra: list[str]) -> int:
    python = _bin(VENV, "python")
    backends = ["sqlite", "postgres"]
    if not postgres_reachable():
        if os.environ.get("CI") or os.environ.get("LT_TEST_REQUIRE_POSTGRES"):
            print("dev.py: PostgreSQL is not reachable on 127.0.0.1:5432", file=sys.stderr)
            return 1
        print("dev.py: PostgreSQL is not reachable: running the SQLite half only", file=sys.stderr)
        backends = ["sqlite"]
    failed = []
    for backend in backends:
        print(f"\n=== tests on {backend} ===", flush=True)
        env = {**os.environ, "LT_TEST_BACKEND": backend}
        if run(python, "-m", "pytest", *extra, env=env):
            failed.append(backend)
    if failed:
        print(f"dev.py: tests failed on {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def check() -> int:
    folders = ("lightningtrack", "tests", "bench", "scripts", "dev.py")
    sources = [p for p in folders if (ROOT / p).exists()]
    steps = [
        [_bin(VENV, "ruff"), "check", *sources],
        [_bin(VENV, "ruff"), "format", "--check", *sources],
        [_bin(VENV, "mypy")],
        [_bin(VENV, "lint-imports")],
    ]
    for step in steps:
        print(
            "dev.py:",
            " ".join(Path(str(step[0])).name if i == 0 else str(s) for i, s in enumerate(step)),
            flush=True,
        )
        if run(*step):
            return 1
    exported = subprocess.run(
        [str(_bin(VENV, "lightningtrack")), "export-schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if exported != (ROOT / "schema.graphql").read_text():
        print(
            "dev.py: schema.graphql is stale: run .venv/bin/lightningtrack export-schema "
            "> schema.graphql",
            file=sys.stderr,
        )
        return 1
    print("dev.py: schema.graphql matches export-schema")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "check", "bench"):
        print(__doc__)
        return 2
    ensure_env()
    command, extra = argv[0], argv[1:]
    if command == "serve":
        return run(_bin(VENV, "lightningtrack"), "serve", *extra)
    if command == "test":
        return test(extra)
    if command == "check":
        return check()
    if "--scale" in extra:  # the 1,000-workspace scenario, a module of its own
        return run(_bin(VENV, "python"), "-m", "bench.scale", *(a for a in extra if a != "--scale"))
    return run(_bin(VENV, "python"), "-m", "bench", *extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
