"""The dashboard on the edge's bare host (/dashboard/), against the shared `berth up`.

Through the real edge with httpx: the login (a wrong token refused, the cookie's flags), redirects
without a session, CSRF and Origin checks on every POST, HTML escaping. A dashboard in this process
(the same ASGI app, calling the platform's real API) stands in where the client must not be this
host or the request must come over https. Then a real headless Chromium (Playwright, the system's
`chromium`) logs in, watches a function's request count rise, follows its live logs and rolls it back.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from prometheus_client import CollectorRegistry

from berth.cli.config import load
from services.edge.dashboard import Api, Dashboard, Sampler
from tests.e2e.conftest import Platform, send, wait_until

FAR_CLIENT = ("203.0.113.7", 40000)  # TEST-NET-3: not this host
SCRIPT = "<script>alert(1)</script>"

# A function that prints what it is asked to (log lines with markup in them) and answers its version.
APP = """
import berth

app = berth.App("{name}", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def greet(say: str = ""):
    print("greeting", say, flush=True)
    return "{answer}"
"""


def write_app(directory: Path, name: str, answer: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(APP.format(name=name, answer=answer))
    return path


@pytest.fixture(scope="module")
def demo(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """An app deployed twice (versions answering "one", then "two"): (its name, greet's URL)."""
    directory = tmp_path_factory.mktemp("dashboard-app")
    name = "dashdemo"
    platform.deploy(write_app(directory, name, "one"))
    url = platform.deploy(write_app(directory, name, "two"))["greet"]
    with platform.client() as client:
        assert send(client, "GET", url).text == '"two"'  # boots its container
    return name, url


def token(platform: Platform) -> str:
    return load(platform.home).token


def edge(platform: Platform) -> httpx.Client:
    """A client of the edge's bare host, from loopback, following no redirects."""
    base = f"http://127.0.0.1:{platform.port}"
    return httpx.Client(base_url=base, headers={"host": f"localhost:{platform.port}"}, timeout=30)


def origin(platform: Platform) -> dict[str, str]:
    return {"origin": f"http://localhost:{platform.port}"}


def login(client: httpx.Client, platform: Platform) -> str:
    """Logs `client` in; returns the session's CSRF token (from the page's logout form)."""
    reply = client.post("/dashboard/login", data={"token": token(platform)}, headers=origin(platform))
    assert reply.status_code == 303, reply.text
    page = client.get("/dashboard/")
    assert page.status_code == 200
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_without_a_session_every_page_leads_to_the_login(platform: Platform) -> None:
    with edge(platform) as client:
        for path in (
            "/dashboard/",
            "/dashboard/apps/x",
            "/dashboard/events",
            "/dashboard/static/dashboard.js",
        ):
            reply = client.get(path)
            assert reply.status_code == 303, path
            assert reply.headers["location"].startswith("/dashboard/login?next="), path
        assert client.get("/dashboard").headers["location"] == "/dashboard/"
        page = client.get("/dashboard/login")
        assert page.status_code == 200 and 'name="token"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (
            client.post("/dashboard/logout", data={"csrf": "x"}, headers=origin(platform)).status_code == 403
        )


def test_a_wrong_token_is_refused_with_a_clear_message(platform: Platform) -> None:
    with edge(platform) as client:
        wrong = client.post("/dashboard/login", data={"token": "bt_" + "0" * 40}, headers=origin(platform))
        assert wrong.status_code == 401
        assert "That token was refused" in wrong.text
        assert "set-cookie" not in wrong.headers
        junk = client.post("/dashboard/login", data={"token": "hunter2"}, headers=origin(platform))
        assert junk.status_code == 401 and "not a Berth API token" in junk.text
        assert client.get("/dashboard/").status_code == 303


def test_the_session_cookie_is_httponly_and_strict(platform: Platform) -> None:
    with edge(platform) as client:
        reply = client.post("/dashboard/login", data={"token": token(platform)}, headers=origin(platform))
        assert reply.status_code == 303 and reply.headers["location"] == "/dashboard/"
        flags = [part.strip() for part in reply.headers["set-cookie"].split(";")]
        assert flags[0].startswith("berth_session=") and len(flags[0]) > 40
        assert {"HttpOnly", "SameSite=Strict", "Path=/dashboard/"} <= set(flags)
        assert "Secure" not in flags  # plain http: a Secure cookie would never come back
        assert token(platform) not in reply.headers["set-cookie"]  # the token stays in the edge


async def test_over_https_the_cookie_is_secure(platform: Platform) -> None:
    async with in_process(platform) as dashboard:
        transport = httpx.ASGITransport(app=dashboard, client=FAR_CLIENT)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="https://berth.example") as client:
            reply = await client.post(
                "/dashboard/login",
                data={"token": token(platform)},
                headers={"origin": "https://berth.example"},
            )
            assert reply.status_code == 303
            assert "Secure" in [part.strip() for part in reply.headers["set-cookie"].split(";")]


def test_posts_need_the_sessions_csrf_token_and_this_origin(platform: Platform) -> None:
    with edge(platform) as client:
        csrf = login(client, platform)
        assert client.post("/dashboard/logout", headers=origin(platform)).status_code == 403
        assert (
            client.post("/dashboard/logout", data={"csrf": "x" + csrf}, headers=origin(platform)).status_code
            == 403
        )
        forged = client.post(
            "/dashboard/logout", data={"csrf": csrf}, headers={"origin": "http://evil.example"}
        )
        assert forged.status_code == 403 and "CSRF token or Origin" in forged.text
        assert client.post("/dashboard/logout", data={"csrf": csrf}).status_code == 403  # no Origin at all
        action = client.post("/dashboard/stop/nonexistent", data={"csrf": csrf}, headers=origin(platform))
        assert action.status_code == 404 and "no container" in action.text  # the API's own answer
        assert client.get("/dashboard/").status_code == 200  # none of that ended the session
        out = client.post("/dashboard/logout", data={"csrf": csrf}, headers=origin(platform))
        assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
        assert client.get("/dashboard/").status_code == 303


async def test_a_client_elsewhere_without_a_session_gets_only_the_login_page(platform: Platform) -> None:
    async with in_process(platform) as dashboard:
        transport = httpx.ASGITransport(app=dashboard, client=FAR_CLIENT)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://berth.example") as client:
            for path in (
                "/dashboard/",
                "/dashboard/apps/dashdemo",
                "/dashboard/logs/dashdemo",
                "/dashboard/events",
            ):
                reply = await client.get(path)
                assert reply.status_code == 303 and reply.headers["location"].startswith("/dashboard/login")
            assert (await client.get("/dashboard/static/dashboard.js")).status_code == 303
            page = await client.get("/dashboard/login")
            assert page.status_code == 200 and "dashdemo" not in page.text


async def test_login_attempts_are_rate_limited(platform: Platform) -> None:
    async with in_process(platform) as dashboard:
        transport = httpx.ASGITransport(app=dashboard, client=FAR_CLIENT)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://berth.example") as client:
            headers = {"origin": "http://berth.example"}
            codes = [
                (
                    await client.post("/dashboard/login", data={"token": "bt_wrong"}, headers=headers)
                ).status_code
                for _ in range(10)
            ]
            assert codes == [401] * 10
            limited = await client.post("/dashboard/login", data={"token": token(platform)}, headers=headers)
            assert limited.status_code == 429 and "Too many login attempts" in limited.text
            assert int(limited.headers["retry-after"]) >= 1


def test_names_and_log_lines_are_escaped(platform: Platform, demo: tuple[str, str]) -> None:
    name, url = demo
    with edge(platform) as client:
        login(client, platform)
        missing = client.get("/dashboard/apps/" + quote(SCRIPT, safe=""))
        assert missing.status_code == 404
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in missing.text and SCRIPT not in missing.text
        marker = uuid.uuid4().hex
        with platform.client() as apps:
            assert send(apps, "GET", url, f"/?say={marker}{SCRIPT}").status_code == 200
        deadline = time.monotonic() + 60
        with client.stream("GET", f"/dashboard/logs/{name}?function=greet") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():  # a comment every 15 s at least: the deadline is checked
                assert time.monotonic() < deadline, f"no log line with {marker} within 60 s"
                assert "<script>" not in line
                if line.startswith("data:") and marker in line:
                    assert json.loads(line[5:])["text"].endswith(f"greeting {marker}{SCRIPT}")
                    break


def test_a_crash_looping_function_shows_failing_with_its_last_error(
    platform: Platform, tmp_path: Path
) -> None:
    source = (Path(__file__).parent / "apps" / "crash_loop.py").read_text()
    path = tmp_path / "dash_crash.py"
    path.write_text(source.replace('berth.App("crash-loop"', 'berth.App("dash-crash"'))
    url = platform.deploy(path)["web"]
    try:
        with platform.client() as apps:
            assert send(apps, "GET", url).status_code == 503  # its first boot fails
        with edge(platform) as client:
            login(client, platform)
            wait_until(
                lambda: "failing" in _row(client.get("/dashboard/").text, "dash-crash"), "the failing state"
            )
            row = _row(client.get("/dashboard/").text, "dash-crash")
            assert "state-failing" in row and "database unreachable" in row, row
    finally:
        assert platform.berth("app", "stop", "dash-crash").returncode == 0


def _row(page: str, app: str) -> str:
    """The part of the apps page about one app (its heading and functions table)."""
    start = page.find(f'data-app="live.{app}"')
    return page[start : page.find("</table>", start)] if start >= 0 else ""


class in_process:  # noqa: N801 - used as `async with in_process(platform)`
    """The dashboard's ASGI app in this process, calling the shared platform's API."""

    def __init__(self, platform: Platform) -> None:
        self._config = load(platform.home)

    async def __aenter__(self) -> Dashboard:
        self._dashboard = Dashboard(
            Api(self._config.server, self._config.ca_file), Sampler(CollectorRegistry())
        )
        return self._dashboard

    async def __aexit__(self, *exc: object) -> None:
        await self._dashboard.stop()


# -- the browser ---------------------------------------------------------------------------------


def chromium() -> str:
    """The system's Chromium (Debian's `chromium` package), or a skip saying why there is none."""
    found = os.environ.get("BERTH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(
            "DASHBOARD BROWSER TEST SKIPPED: no `chromium` on PATH. scripts/test installs it with apt-get "
            "when it runs as root; else `apt-get install -y chromium` (or set BERTH_CHROMIUM)"
        )
    return found


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[object]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip(
            "DASHBOARD BROWSER TEST SKIPPED: the `playwright` package is missing; "
            f"`{sys.executable} -m pip install -e '.[dev]'` installs it"
        )
    executable = chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
            await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert (tmp_path / "dashboard.png").stat().st_size > 0
        finally:
            await browser.close()


async def test_in_a_browser(platform: Platform, demo: tuple[str, str], browser_page: object) -> None:
    from playwright.async_api import Page, expect

    page: Page = browser_page  # type: ignore[assignment]
    expect.set_options(timeout=60_000)  # cold starts and a rollback's warm-up, not the default 5 s
    name, url = demo
    base = f"http://127.0.0.1:{platform.port}"
    await page.goto(f"{base}/dashboard/")
    assert "/dashboard/login" in page.url
    await page.fill("#token", "bt_" + "0" * 40)
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_contain_text("That token was refused")
    await page.fill("#token", token(platform))
    await page.click("button[type=submit]")
    await expect(page.locator(f'h2[data-app="live.{name}"]')).to_be_visible()

    # The request count rises without a reload: the page applies the stats events.
    requests = page.locator(f'[data-key="live.{name}/greet"][data-stat="requests"]')
    before = int(await requests.inner_text())
    with platform.client() as apps:
        for _ in range(3):
            assert send(apps, "GET", url).status_code == 200
    await page.wait_for_function(
        "([el, n]) => parseInt(el.textContent, 10) >= n", arg=[await requests.element_handle(), before + 3]
    )

    # The function's page follows its logs live: a line printed after the page opened shows up.
    await page.click(f'a[href="/dashboard/apps/{name}/greet"]')
    await expect(page.locator("#logs-status")).to_have_text("following")
    marker = uuid.uuid4().hex
    with platform.client() as apps:
        assert send(apps, "GET", url, f"/?say={marker}{SCRIPT}").status_code == 200
    line = page.locator("#logs div", has_text=marker)
    await expect(line).to_contain_text(f"greeting {marker}{SCRIPT}")  # shown as text
    assert await page.locator("#logs script").count() == 0

    # Roll back to version 1: the button posts with the session's CSRF token.
    await page.click('button[data-rollback="1"]')
    await expect(page.locator("p.flash")).to_contain_text("now serves version 1 again")
    with platform.client() as apps:
        assert send(apps, "GET", url).text == '"one"'
