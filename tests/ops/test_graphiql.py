"""GraphiQL in a real browser (Debian's headless Chromium) with every outside address
unreachable: the page renders from the server's own assets, runs a query with the
session cookie and X-Workspace, and another with an API key, and shows the results."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from typing import Any
from urllib.parse import quote

import pytest

from lightningtrack.schema import graphiql
from lightningtrack.settings import Settings
from tests.conftest import Client
from tests.integrators.conftest import create_key
from tests.ops.conftest import served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (CI installs it)",
)
# A closed network: names resolve to nothing but the loopback, and anything that would
# still go out meets a proxy that does not exist.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
]


async def _run(page: Any, query: str, variables: dict[str, Any] | None = None) -> str:
    """Put ``query`` (and ``variables``) in the editors, press the run button, return what
    the result pane shows."""
    await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
    await page.evaluate(
        "q => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)",
        query,
    )
    if variables is not None:
        await page.click("button:has-text('Variables')")
        await page.evaluate(
            "v => document.querySelector('.graphiql-editor-tool .CodeMirror')"
            ".CodeMirror.setValue(v)",
            json.dumps(variables),
        )
    # GraphiQL reads the edited document (and its operation name) after a short debounce.
    await page.wait_for_timeout(400)
    await page.click(".graphiql-execute-button")
    result = page.locator(".graphiql-response .CodeMirror-code")
    await result.filter(has_text='"data"').wait_for(timeout=30_000)
    text: str = await result.inner_text()
    return text


async def test_graphiql_runs_queries_with_the_cookie_and_with_an_api_key_offline(
    app: Any, owner: Client, settings: Settings
) -> None:
    from playwright.async_api import async_playwright

    assert CHROMIUM is not None, "CI must install chromium"
    cookie = owner.http.cookies.get(settings.session_cookie_name)
    assert cookie
    secret, _ = await create_key(owner, ["READ"], name="GraphiQL")
    viewer = (await owner.gql("{ viewer { name email } }"))["viewer"]
    name, email = viewer["name"], viewer["email"]
    slug = owner.workspace
    assert slug

    async with served(app) as (base, paths), async_playwright() as playwright:
        # Playwright drives the installed browser; it never downloads one of its own.
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        requested: list[str] = []
        failed: list[str] = []
        problems: list[str] = []
        try:
            signed_in = await browser.new_context()
            await signed_in.add_cookies(
                [{"name": settings.session_cookie_name, "value": cookie, "url": base}]
            )
            page = await signed_in.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            response = await page.goto(f"{base}/graphql?workspace={slug}")
            assert response is not None and response.status == 200
            assert "script-src 'self'" in response.headers["content-security-policy"]
            shown = await _run(page, "query Who { viewer { name } workspace { slug viewerRole } }")
            assert name in shown and slug in shown and "OWNER" in shown, shown

            integrator = await browser.new_context()
            headers = json.dumps({"Authorization": f"Bearer {secret}"})
            page = await integrator.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            await page.goto(f"{base}/graphql?headers={quote(headers)}")
            shown = await _run(page, "query Key { workspace { slug } }")
            assert slug in shown and "UNAUTHENTICATED" not in shown, shown
            # GraphiQL's history records each operation with its headers: the page's
            # storage keeps the operation and leaves the key out.
            stored = await page.evaluate("() => JSON.stringify({...window.localStorage})")
            assert "query Key" in json.loads(stored).get("graphiql:queries", ""), stored
            assert secret not in stored, stored

            # Signing in from the page itself: the cookie it sets is sent with what follows.
            fresh = await browser.new_context()
            page = await fresh.new_page()
            page.on("request", lambda r: requested.append(r.url))
            await page.goto(f"{base}/graphql")
            shown = await _run(
                page,
                "mutation SignIn($i: SignInInput!) { signIn(input: $i) { account { name } } }",
                {"i": {"email": email, "password": "correct horse"}},
            )
            assert name in shown, shown
            shown = await _run(page, "query Me { viewer { name } workspaces { slug } }")
            assert name in shown and slug in shown, shown
            assert any(c["name"] == settings.session_cookie_name for c in await fresh.cookies())
            # The history keeps the operation, not its variables: the password stays in
            # the page's memory, and the page comes back without it.
            stored = await page.evaluate("() => JSON.stringify({...window.localStorage})")
            assert "mutation SignIn" in json.loads(stored).get("graphiql:queries", ""), stored
            assert "correct horse" not in stored, stored
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.reload()
            shown = await _run(page, "query Again { viewer { name } }")
            assert name in shown, shown
            stored = await page.evaluate("() => JSON.stringify({...window.localStorage})")
            assert "correct horse" not in stored, stored

            # The control: the outside is indeed unreachable from this browser.
            outside = await (await browser.new_context()).new_page()
            with pytest.raises(Exception, match="ERR_"):
                await outside.goto("https://unpkg.com/react@18.2.0/umd/react.production.min.js")
        finally:
            await browser.close()

    assert requested and all(url.startswith(f"{base}/") for url in requested), requested
    assert not failed, failed
    assert not problems, problems
    # Every asset the page names came from this server, and the queries too.
    for asset in graphiql.assets().values():
        assert f"/graphiql/{asset.path}" in paths, asset.path
    assert paths.count("/graphql") >= 4  # two pages, and at least one query from each


async def test_assets_are_cached_for_a_year_and_match_their_integrity(owner: Client) -> None:
    page = await owner.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "unpkg" not in page.text and "cdn" not in page.text.lower()
    for asset in graphiql.assets().values():
        assert f'src="/graphiql/{asset.path}"' in page.text or (
            f'href="/graphiql/{asset.path}"' in page.text
        )
        assert f'integrity="{asset.integrity}"' in page.text
        plain = await owner.http.get(f"/graphiql/{asset.path}", headers={"Accept-Encoding": ""})
        assert plain.status_code == 200
        assert graphiql._sri(plain.content) == asset.integrity
        assert plain.headers["cache-control"] == graphiql.IMMUTABLE
    zipped = await owner.http.get("/graphiql/graphiql@3.8.3/graphiql.min.js")
    assert zipped.headers["content-encoding"] == "gzip"
    assert len(zipped.content) == 3_513_580  # httpx decoded it
    assert (await owner.http.get("/graphiql/../settings.py")).status_code == 404
    assert (await owner.http.get("/graphiql/ASSETS.json")).status_code == 404


async def test_the_committed_assets_match_the_pins() -> None:
    process = await asyncio.create_subprocess_exec(
        "python3", "scripts/graphiql_assets.py", "--check", cwd=graphiql.STATIC.parents[2]
    )
    assert await process.wait() == 0
