"""The differential run (``python3 -m bench.differential``) over the documents kept in
``bench/documents``: each answered compiled and field by field, byte for byte alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import differential
from tests.conftest import BACKEND, POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "bench" / "documents"
# The documents whose answer is an error, alike on every way; the others answer rows.
ERRORS = {"errors.graphql", "errors_page_size.graphql", "filter_other_workspace.graphql"}


def run_tool(*folders: Path) -> subprocess.CompletedProcess[str]:
    backend = ["--postgres", POSTGRES_URL] if BACKEND == "postgres" else []
    return subprocess.run(  # noqa: S603 (our own tool)
        [sys.executable, "-m", "bench.differential", *map(str, folders), *backend],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_kept_documents_answer_alike_every_way() -> None:
    done = run_tool(CORPUS)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {Path(line.split()[1]).name: line for line in done.stdout.splitlines() if "/" in line}
    names = {path.name for path in CORPUS.glob("*.graphql")}
    assert set(lines) == names
    for name, line in lines.items():
        if name == "create_is_skipped.graphql":
            assert line.startswith("skipped") and "mutation" in line
            continue
        assert line.startswith("same"), line
        if name in ERRORS:
            assert "0 errors" not in line, line
        else:
            assert line.endswith(", 0 errors"), line
    # The dashboard and the other row documents took the compiled path.
    assert "0 objects built" not in lines["dashboard.graphql"]
    assert done.stdout.splitlines()[-1] == f"{len(names) - 1} same, 0 different, 1 skipped"


def test_a_folder_that_is_missing_or_a_placeholder_unknown_is_said(tmp_path: Path) -> None:
    (tmp_path / "unknown.graphql").write_text('{ node(id: "{{nothing}}") { id } }')
    (tmp_path / "broken.graphql").write_text("{ issues(first: ")
    done = run_tool(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "skipped   " + str(tmp_path / "unknown.graphql") in done.stdout
    assert "no placeholder {{nothing}}" in done.stdout
    # A syntax error is sent all the same: it must be alike too.
    assert "same      " + str(tmp_path / "broken.graphql") in done.stdout
    missing = run_tool(tmp_path / "absent")
    assert missing.returncode == 2
    assert "not a folder" in missing.stderr


class _Answers:
    """Bodies handed out in turn, one per way, as the app would answer them."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies

    async def post(self, *_: Any, **__: Any) -> Any:
        return type("Response", (), {"content": self.bodies.pop(0)})()


@pytest.mark.parametrize("way", [1, 2])
async def test_a_way_that_answers_otherwise_is_reported(way: int) -> None:
    same = b'{"data": {"issues": {"nodes": [{"key": "P0-1"}]}}}'
    bodies = [same] * 3
    bodies[way] = b'{"data": {"issues": {"nodes": [{"key": "P0-2"}]}}}'
    document = differential.Document("d.graphql", "{ issues { nodes { key } } }", {})
    outcome = await differential.answer(_Answers(bodies), "key", document)  # type: ignore[arg-type]
    assert outcome.verdict == "DIFFERENT"
    assert f"way {way} differs from the compiled way at byte 43" in outcome.detail
    alike = await differential.answer(_Answers([same] * 3), "key", document)  # type: ignore[arg-type]
    assert alike.verdict == "same"
