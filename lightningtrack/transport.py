"""HTTP guards in front of ``/graphql``: body size, content type, cross-site requests.

A browser sends a cookie with any request, including a form or ``text/plain`` POST from
another site, which needs no CORS preflight. Refusing every POST that is not
``application/json``, and every cookie-carrying request the browser marks
``Sec-Fetch-Site: cross-site``, leaves such forged requests nowhere to land. Mutations
never run over GET (the GraphQL view allows only queries there).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightningtrack.settings import Settings


class TransportGuard:
    def __init__(self, app: ASGIApp, settings: Settings, path: str = "/graphql") -> None:
        self.app = app
        self.settings = settings
        self.path = path

    def _has_session_cookie(self, headers: Headers) -> bool:
        raw = headers.get("cookie")
        if not raw:
            return False
        try:
            return self.settings.session_cookie_name in SimpleCookie(raw)
        except CookieError:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self._has_session_cookie(headers) and headers.get("sec-fetch-site") == "cross-site":
            await PlainTextResponse("Cross-site requests are refused.", 403)(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            refusal = PlainTextResponse("Send GraphQL requests as application/json.", 415)
            await refusal(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit, scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            chunk = await receive()
            if chunk["type"] == "http.disconnect":
                return
            body += chunk.get("body", b"")
            more = chunk.get("more_body", False)
            if len(body) > limit:
                await _too_large(limit, scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = PlainTextResponse(f"The request body is larger than {limit} bytes.", 413)
    await response(scope, receive, send)
