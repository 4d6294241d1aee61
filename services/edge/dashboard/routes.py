"""The dashboard's ASGI application under /dashboard/ on the edge's bare host.

    GET  /dashboard/                      apps and their functions, live figures
    GET  /dashboard/apps/NAME[/FUNCTION]  an app (or one function): containers, versions, live logs
    GET  /dashboard/events                server-sent stats for the pages (JSON)
    GET  /dashboard/logs/NAME             server-sent log lines of an app (?function=, ?dev=1)
    GET  /dashboard/login, POST …/login   the login form; POST …/logout
    POST /dashboard/rollback/NAME         RollbackApp (version=)
    POST /dashboard/stop/CONTAINER        StopContainer
    GET  /dashboard/static/…              stylesheet (public) and script (logged in)

Without a session every GET is redirected to the login page and every POST is a 403, whoever the
client is (loopback included): the login page and its stylesheet are all that is public. Every POST
checks its CSRF field and its Origin (session.py). `?dev=1` names an app `berth serve` runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from services.common import auth
from services.edge.dashboard import assets, pages, session
from services.edge.dashboard.api import Api, ApiError
from services.edge.dashboard.events import LOG_TAIL, Sampler, log_events, stats_events
from services.edge.dashboard.http import (
    FormTooLarge,
    Receive,
    Request,
    Send,
    read_form,
    redirect,
    respond,
    stream_events,
)
from services.edge.dashboard.overview import AppView, assemble, live
from services.edge.ratelimit import retry_after

log = logging.getLogger("berth.edge")

PREFIX = "/dashboard"
LOGIN = "/dashboard/login"
WRONG_TOKEN = "That token was refused: it is not a valid API token of this platform (wrong, or revoked)."
NOT_A_TOKEN = f"That is not a Berth API token (they start with {auth.TOKEN_PREFIX!r})."
FORBIDDEN = (
    "refused: this form did not come from this dashboard's page (CSRF token or Origin missing or wrong)"
)


def mounted(path: str) -> bool:
    """Whether a bare-host request's path belongs to the dashboard."""
    return path == PREFIX or path.startswith(PREFIX + "/")


class Dashboard:
    def __init__(self, api: Api, sampler: Sampler) -> None:
        self.api = api
        self.sampler = sampler
        self.sessions = session.Sessions()
        self.logins = session.LoginLimit()
        self._stopping = asyncio.Event()

    async def stop(self) -> None:
        """Ends every open event stream (they would hold the edge's shutdown) and the sampler."""
        self._stopping.set()
        await self.sampler.stop()
        await self.api.close()

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        request = Request.of(scope)
        path = request.path
        if path == PREFIX:
            await redirect(send, PREFIX + "/")
            return
        if path == LOGIN:
            await self._login(request, receive, send)
            return
        if path == "/dashboard/static/dashboard.css" and request.method == "GET":
            await respond(send, 200, assets.CSS, ctype="text/css; charset=utf-8")
            return
        sid = session.session_id(request.headers.get("cookie", ""))
        current = self.sessions.get(sid)
        form: dict[str, str] = {}
        if request.method == "POST":
            if current is None:
                await respond(send, 403, pages.problem(403, "log in first: this action needs a session"))
                return
            checked = await self._post_allowed(request, receive, send, current)
            if checked is None:
                return
            form = checked
        elif request.method != "GET":
            await respond(send, 405, pages.problem(405, f"{request.method} is not served here"))
            return
        elif current is None:
            target = path + (f"?{request.query_string}" if request.query_string else "")
            await redirect(send, f"{LOGIN}?next={quote(target, safe='/')}")
            return
        try:
            await self._route(request, receive, send, sid, current, form)
        except ApiError as exc:
            if exc.unauthenticated:  # revoked since login: every session of that token ends
                self.sessions.end_token(current.token)
                await redirect(send, f"{LOGIN}?expired=1")
                return
            await respond(send, exc.status, pages.problem(exc.status, str(exc), current.csrf))

    async def _post_allowed(
        self, request: Request, receive: Receive, send: Send, current: session.Session
    ) -> dict[str, str] | None:
        """A POST's form, or None once answered 403: its CSRF token and Origin must be this session's."""
        try:
            form = await read_form(receive)
        except FormTooLarge as exc:
            await respond(send, 413, pages.problem(413, str(exc)))
            return None
        origin_ok = session.same_origin(
            request.headers.get("origin", ""), request.headers.get("referer", ""), request.host
        )
        if not origin_ok or not session.csrf_ok(current, form.get("csrf", "")):
            await respond(send, 403, pages.problem(403, FORBIDDEN))
            return None
        return form

    async def _route(
        self,
        request: Request,
        receive: Receive,
        send: Send,
        sid: str,
        current: session.Session,
        form: Mapping[str, str],
    ) -> None:
        raw = request.raw_path.split("?", 1)[0]
        if not raw.startswith(PREFIX + "/"):  # an escaped prefix: the decoded path will do
            raw = quote(request.path)
        parts = [unquote(p) for p in raw[len(PREFIX) + 1 :].split("/")]
        if request.method == "POST":
            if parts == ["logout"]:
                self.sessions.end(sid)
                https = session.page_is_https(request.headers.get("origin", ""), "")
                cookie = session.cookie("", secure=request.secure or https, max_age=0)
                await redirect(send, LOGIN, [(b"set-cookie", cookie.encode())])
            elif len(parts) == 2 and parts[0] == "rollback":
                await self._rollback(send, current, parts[1], form)
            elif len(parts) == 2 and parts[0] == "stop":
                reply = await self.api.stop_container(current.token, parts[1])
                current.flash = (
                    f"container {parts[1]} of {reply.app}/{reply.function} is draining, then stops"
                )
                await redirect(send, _back(form))
            else:
                await respond(send, 404, pages.problem(404, "no such action", current.csrf))
            return
        if parts == [""]:
            apps = await self._apps(current.token)
            await respond(send, 200, pages.overview(apps, current.csrf, *_flash(current)))
        elif parts == ["events"]:
            await stream_events(
                send,
                receive,
                stats_events(lambda: self._live(current.token), self._alive(sid)),
                self._stopping,
            )
        elif parts == ["static", "dashboard.js"]:
            await respond(send, 200, assets.JS, ctype="text/javascript; charset=utf-8")
        elif len(parts) in (2, 3) and parts[0] == "apps":
            await self._app(request, send, current, parts[1], parts[2] if len(parts) == 3 else "")
        elif len(parts) == 2 and parts[0] == "logs":
            lines = self.api.logs(
                current.token,
                parts[1],
                ephemeral=request.query.get("dev") == "1",
                function=request.query.get("function", ""),
                tail=LOG_TAIL,
            )
            await stream_events(send, receive, log_events(lines, self._alive(sid)), self._stopping)
        else:
            await respond(send, 404, pages.problem(404, f"nothing at {request.path}", current.csrf))

    def _alive(self, sid: str) -> Any:
        return lambda: self.sessions.get(sid) is not None and not self._stopping.is_set()

    async def _apps(self, token: str) -> list[AppView]:
        listed, containers, cold = await asyncio.gather(
            self.api.list_apps(token), self.api.containers(token), self._cold_starts()
        )
        return assemble(listed.apps, containers, self.sampler.figures(), cold)

    async def _cold_starts(self) -> Any:
        try:
            return await self.sampler.cold_starts()
        except Exception as exc:  # noqa: BLE001 - the rest of the page is still worth showing
            log.warning("cannot read cold starts for the dashboard: %s", exc)
            return {}

    async def _live(self, token: str) -> dict[str, Any]:
        return live(await self._apps(token))

    async def _app(
        self, request: Request, send: Send, current: session.Session, name: str, function: str
    ) -> None:
        ephemeral = request.query.get("dev") == "1"
        apps = await self._apps(current.token)
        found = [a for a in apps if a.name == name and a.ephemeral == ephemeral]
        if not found:
            what = "served (berth serve)" if ephemeral else "deployed"
            await respond(send, 404, pages.problem(404, f"no app named {name!r} is {what}", current.csrf))
            return
        app = found[0]
        if function and function not in {f.function for f in app.functions}:
            await respond(
                send, 404, pages.problem(404, f"app {name!r} has no function {function!r}", current.csrf)
            )
            return
        containers = [c for c in await self.api.containers(current.token, name) if c.ephemeral == ephemeral]
        versions = [] if ephemeral else await self.api.history(current.token, name)
        await respond(
            send, 200, pages.app_page(app, function, containers, versions, current.csrf, *_flash(current))
        )

    async def _rollback(
        self, send: Send, current: session.Session, name: str, form: Mapping[str, str]
    ) -> None:
        try:
            version = int(form.get("version", "0"))
        except ValueError:
            await respond(
                send,
                400,
                pages.problem(400, f"version {form.get('version')!r} is not a number", current.csrf),
            )
            return
        try:
            reply = await self.api.rollback(current.token, name, version)
        except ApiError as exc:
            if exc.unauthenticated:
                raise
            current.flash, current.flash_error = f"rollback refused: {exc}", True
        else:
            current.flash = (
                f"{reply.app} now serves version {reply.rollback_of} again, as version {reply.version}"
            )
        await redirect(send, _back(form))

    async def _login(self, request: Request, receive: Receive, send: Send) -> None:
        next_path = _safe_next(request.query.get("next", ""))
        if request.method == "GET":
            message = (
                "Your session ended: the API refused its token. Log in again."
                if request.query.get("expired")
                else ""
            )
            await respond(send, 200, pages.login(message, next_path))
            return
        if request.method != "POST":
            await respond(send, 405, pages.problem(405, f"{request.method} is not served here"))
            return
        try:
            form = await read_form(receive)
        except FormTooLarge as exc:
            await respond(send, 413, pages.problem(413, str(exc)))
            return
        next_path = _safe_next(form.get("next", ""))
        origin, referer = request.headers.get("origin", ""), request.headers.get("referer", "")
        if not session.same_origin(origin, referer, request.host):
            await respond(send, 403, pages.problem(403, FORBIDDEN))
            return
        wait = self.logins.take(request.client)
        if wait:
            seconds = retry_after(wait)
            text = f"Too many login attempts: try again in {seconds} s."
            await respond(
                send, 429, pages.login(text, next_path), headers=[(b"retry-after", seconds.encode())]
            )
            return
        token = form.get("token", "").strip()
        if not token.startswith(auth.TOKEN_PREFIX):
            await respond(send, 401, pages.login(NOT_A_TOKEN, next_path))
            return
        try:
            await self.api.list_apps(token)  # the token's first use: the API says whether it is valid
        except ApiError as exc:
            text = WRONG_TOKEN if exc.unauthenticated else str(exc)
            await respond(send, 401 if exc.unauthenticated else exc.status, pages.login(text, next_path))
            return
        sid, _ = self.sessions.create(token)
        cookie = session.cookie(sid, secure=request.secure or session.page_is_https(origin, referer))
        await redirect(send, next_path, [(b"set-cookie", cookie.encode())])


def _flash(current: session.Session) -> tuple[str, bool]:
    """The session's one-time message (after a POST's redirect), and whether it is an error."""
    text, error = current.flash, current.flash_error
    current.flash, current.flash_error = "", False
    return text, error


def _safe_next(path: str) -> str:
    """Where to go after login: a dashboard path on this host only (no open redirect)."""
    if path.startswith(PREFIX + "/") and "//" not in path and "\\" not in path and path != LOGIN:
        return path
    return PREFIX + "/"


def _back(form: Mapping[str, str]) -> str:
    return _safe_next(form.get("back", ""))
