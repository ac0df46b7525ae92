"""The GraphiQL page of ``GET /graphql`` and its assets, served from the package itself.

The page loads React, GraphiQL and the explorer plugin from ``/graphiql/…`` (pinned
versions from the npm registry, see ``static/graphiql/NOTICE.md``) with subresource
integrity, and its own start script as a file, under a Content-Security-Policy that
allows nothing but this origin: no request of the page leaves the server. Asset paths
carry their version (or, for the start script, its hash), so they are cached for a year.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

STATIC = Path(__file__).resolve().parent.parent / "static" / "graphiql"
PREFIX = "/graphiql/"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass
class Asset:
    path: str  # below /graphiql/
    file: Path
    integrity: str
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def content_type(self) -> str:
        return _TYPES.get(self.file.suffix, "application/octet-stream")

    def body(self, gzipped: bool) -> bytes:
        if not gzipped:
            return self.file.read_bytes()
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.file.read_bytes(), compresslevel=6, mtime=0)
        return self._gzipped


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@cache
def assets() -> dict[str, Asset]:
    """Every file the page may load, by its path below ``/graphiql/``."""
    found = {}
    for entry in json.loads((STATIC / "ASSETS.json").read_text()):
        found[entry["path"]] = Asset(entry["path"], STATIC / entry["path"], entry["integrity"])
    start = (STATIC / "page.js").read_bytes()
    name = f"page.{hashlib.sha256(start).hexdigest()[:12]}.js"
    found[name] = Asset(name, STATIC / "page.js", _sri(start))
    return found


def _tag(asset: Asset) -> str:
    src = escape(PREFIX + asset.path)
    if asset.file.suffix == ".css":
        return f'<link rel="stylesheet" href="{src}" integrity="{asset.integrity}">'
    return f'<script src="{src}" integrity="{asset.integrity}"></script>'


@cache
def page_html() -> str:
    order = ["react@", "react-dom@", "graphiql@", "plugin-explorer@", "page."]
    ordered = sorted(
        assets().values(),
        key=lambda a: next(i for i, p in enumerate(order) if a.path.startswith(p)),
    )
    styles = "\n    ".join(_tag(a) for a in ordered if a.file.suffix == ".css")
    scripts = "\n    ".join(_tag(a) for a in ordered if a.file.suffix == ".js")
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>LightningTrack GraphiQL</title>
    <link rel="icon" href="data:,">
    {styles}
  </head>
  <body style="margin: 0">
    <div id="graphiql" style="height: 100vh">Loading…</div>
    {scripts}
  </body>
</html>
"""


def page() -> HTMLResponse:
    return HTMLResponse(
        page_html(),
        headers={
            "Content-Security-Policy": POLICY,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


async def asset(request: Request) -> Response:
    """``GET /graphiql/{path}``: one of the page's files, cached for a year."""
    found = assets().get(request.path_params["path"])
    if found is None:
        return PlainTextResponse("Not Found", 404)
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    headers = {
        "Cache-Control": IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    # Compressing GraphiQL's 3.5 MB once per process takes a moment: off the event loop.
    body = await asyncio.to_thread(found.body, gzipped)
    return Response(body, media_type=found.content_type, headers=headers)
