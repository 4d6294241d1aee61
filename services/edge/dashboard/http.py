"""Plain ASGI plumbing for the dashboard: the request's parts, bounded form bodies, responses with
the security headers every page gets, and server-sent event streams that end with their client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

MAX_FORM = 16 * 1024  # a login form or a button's fields; anything bigger is not the dashboard's
KEEPALIVE = 15.0  # seconds between SSE comments on a quiet stream: proxies keep it, and a gone client shows

# Pages hold no inline script or style, so the policy can forbid both: injected markup that slipped
# past escaping still could not run. Frames are refused (clickjacking a rollback button).
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class FormTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lowercased names; the first of repeated headers
    scheme: str
    client: str
    query_string: str = ""
    raw_path: str = ""  # as sent, %-escapes kept: an escaped `/` inside a name does not split it

    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> Request:
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        client = scope.get("client")
        return cls(
            method=scope.get("method", "GET"),
            path=scope.get("path", "/"),
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
            headers=headers,
            scheme=scope.get("scheme", "http"),
            client=client[0] if client else "",
            query_string=scope.get("query_string", b"").decode("latin-1"),
            raw_path=(scope.get("raw_path") or scope.get("path", "/").encode()).decode("latin-1"),
        )

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @property
    def secure(self) -> bool:
        return self.scheme == "https"


async def read_form(receive: Receive, limit: int = MAX_FORM) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, refused past `limit` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            raise FormTooLarge(f"a form of more than {limit} bytes")
        if not message.get("more_body", False):
            break
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def respond(
    send: Send,
    status: int,
    body: str | bytes,
    *,
    ctype: str = "text/html; charset=utf-8",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = body.encode() if isinstance(body, str) else body
    head = [(b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode())]
    head += SECURITY_HEADERS + (headers or [])
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


async def redirect(send: Send, location: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A 303: after a POST the browser GETs `location` (a path on this host)."""
    await respond(
        send, 303, b"", ctype="text/plain", headers=[(b"location", location.encode()), *(headers or [])]
    )


async def stream_events(
    send: Send, receive: Receive, events: AsyncIterator[str], stop: asyncio.Event
) -> None:
    """Sends each of `events` (already formatted: `data: …\\n\\n`) until they end, the client goes
    away, or `stop` is set (the edge is shutting down)."""
    head = [(b"content-type", b"text/event-stream; charset=utf-8"), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": 200, "headers": head})

    async def pump() -> None:
        try:
            async for item in events:
                await send({"type": "http.response.body", "body": item.encode(), "more_body": True})
        finally:  # cancelled between two events: the generator must still let go of its stream
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = [asyncio.create_task(pump()), asyncio.create_task(gone()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):  # the client may be gone already
            await send({"type": "http.response.body", "body": b""})


def event(data: str, name: str = "") -> str:
    """One server-sent event carrying `data` (a single line: JSON)."""
    return (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
