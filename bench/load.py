"""Driving load with wrk (Debian's package) from a separate process, and reading its output."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _script(body: str, headers: dict[str, str], keys: list[str] | None) -> str:
    lua_headers = "".join(f'h["{k}"] = {json.dumps(v)}\n' for k, v in headers.items())
    lua_keys = "{" + ",".join(json.dumps(k) for k in keys or []) + "}"
    return f"""
local body = {json.dumps(body)}
local keys = {lua_keys}
local i = 0
request = function()
  local h = {{}}
  h["Content-Type"] = "application/json"
{lua_headers}
  if #keys > 0 then
    i = i % #keys + 1
    h["Authorization"] = "Bearer " .. keys[i]
  end
  return wrk.format("POST", nil, h, body)
end
"""


def run_wrk(
    url: str,
    body: str,
    *,
    headers: dict[str, str] | None = None,
    keys: list[str] | None = None,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 1,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(_script(body, headers or {}, keys))
        script = handle.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "99" not in latency:
        raise RuntimeError(f"wrk finished no request:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(g) for g in found.groups())
    return LoadResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        requests=requests,
        errors=errors,
    )
