"""web_server support: waiting for the user's server to listen, and a small HTTP/1.1 reverse proxy to it.

Only the stdlib: one upstream connection per request (`Connection: close`), request and response
bodies streamed, chunked and content-length responses understood. WebSockets are not proxied yet.
"""

from __future__ import annotations

import asyncio
import time

from .types import ASGIApp, Receive, Scope, Send

_HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}
_CONNECT_ATTEMPT = 0.1


class PortTimeout(Exception):
    """The user's server did not start listening in time."""


async def wait_for_port(port: int, timeout: float) -> None:
    """Returns once 127.0.0.1:port accepts TCP connections; raises PortTimeout after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), _CONNECT_ATTEMPT)
        except (OSError, TimeoutError):
            if time.monotonic() >= deadline:
                raise PortTimeout(
                    f"web_server({port}) did not start listening on port {port} within {timeout:g} s: "
                    "make sure the server binds 0.0.0.0 (not 127.0.0.1) "
                    "and that startup_timeout is long enough"
                ) from None
            await asyncio.sleep(0.02)  # poll interval while waiting for the user's server
            continue
        writer.close()
        return


def _request_head(scope: Scope, *, chunked: bool) -> bytes:
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    lines = [b"%s %s HTTP/1.1" % (scope["method"].encode(), target)]
    forwarded = b""
    for name, value in scope["headers"]:
        lower = name.lower()
        if lower in _HOP_BY_HOP:
            continue
        if lower == b"x-forwarded-for":
            forwarded = value + b", "
            continue
        lines.append(name + b": " + value)
    client = scope.get("client")
    if client:
        lines.append(b"x-forwarded-for: " + forwarded + client[0].encode())
    if chunked:
        lines.append(b"transfer-encoding: chunked")
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _send_body(receive: Receive, writer: asyncio.StreamWriter, *, chunked: bool) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        data = message.get("body", b"")
        if data:
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            await writer.drain()
        if not message.get("more_body", False):
            break
    if chunked:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]]]:
    status_line = await reader.readline()
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"upstream sent an invalid status line {status_line[:100]!r}")
    headers = []
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    return int(parts[1]), headers


async def _relay_body(reader: asyncio.StreamReader, headers: dict[bytes, bytes], send: Send) -> None:
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are dropped
                break
            data = await reader.readexactly(size)
            await reader.readline()
            await send({"type": "http.response.body", "body": data, "more_body": True})
    elif b"content-length" in headers:
        remaining = int(headers[b"content-length"])
        while remaining > 0:
            data = await reader.read(min(remaining, 65536))
            if not data:
                raise ConnectionError("upstream closed before the end of the body")
            remaining -= len(data)
            await send({"type": "http.response.body", "body": data, "more_body": remaining > 0})
        if remaining == 0 and int(headers[b"content-length"]) > 0:
            return
    else:
        while data := await reader.read(65536):
            await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def proxy_app(port: int) -> ASGIApp:
    """An ASGI app forwarding every HTTP request to 127.0.0.1:port."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("web_server has no ASGI lifespan")
        if scope["type"] == "websocket":
            from .ws_proxy import proxy_websocket

            await proxy_websocket(port, scope, receive, send)
            return
        headers = dict(scope["headers"])
        chunked = b"content-length" not in headers and scope["method"] not in ("GET", "HEAD")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(_request_head(scope, chunked=chunked))
            await _send_body(receive, writer, chunked=chunked)
            status, response_headers = await _read_head(reader)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k, v) for k, v in response_headers if k not in _HOP_BY_HOP],
                }
            )
            if scope["method"] == "HEAD" or status in (204, 304) or 100 <= status < 200:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await _relay_body(reader, dict(response_headers), send)
        finally:
            writer.close()

    return app
