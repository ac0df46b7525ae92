"""The Dockerfile and compose.yaml, checked without a container engine: the commands they
run are real commands, every variable they set is one the server reads, the image runs
as a non-root user from the lock file, and the compose file has each part in its place."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from lightningtrack.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "lightningtrack" / "settings.py").read_text()


def test_the_image_is_slim_non_root_and_installed_from_the_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert stages and all(base.startswith("python:") and "-slim" in base for base in stages)
    assert "uv sync --frozen --no-dev --no-install-project" in dockerfile
    assert "uv sync --frozen --no-dev --no-editable" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^CMD \["lightningtrack", "serve"\]', dockerfile, re.M)
    assert "postgresql-client" in dockerfile  # pg_dump for backups
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", "tests"} <= set(ignored)


def test_compose_runs_server_worker_postgres_and_redis_with_migrations_first() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"server", "worker", "postgres", "redis", "migrate"} <= set(services)
    assert services["server"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    parser = _parser()
    for name in ("server", "worker", "migrate"):
        command = services[name]["command"]
        assert command[0] == "lightningtrack"
        parser.parse_args(command[1:])  # exits on an unknown command or flag
        environment = services[name]["environment"]
        for variable in environment:
            assert f'"{variable}"' in SETTINGS, f"{variable} is not a setting"
        assert environment["LT_ENV"] == "production"
        assert environment["LT_BROKER_URL"].startswith("redis://redis:")
    assert services["postgres"]["image"] == "postgres:15"  # matches the image's pg_dump
