"""WebSockets for web_server functions: the runner opens the same WebSocket to the user's server
and relays messages both ways. Imported only when a WebSocket arrives (it needs `websockets`,
which the Berth runtime layer provides)."""

from __future__ import annotations

import asyncio
import contextlib

from berth._wire.flow import MAX_WS_MESSAGE

from .types import Receive, Scope, Send

# The upstream's messages, as the edge takes them from clients (bigger ones: close code 1009).
MAX_MESSAGE = MAX_WS_MESSAGE
_SKIPPED = {
    b"host",
    b"upgrade",
    b"connection",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-extensions",
    b"sec-websocket-protocol",
}


async def proxy_websocket(port: int, scope: Scope, receive: Receive, send: Send) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    connect_event = await receive()
    if connect_event["type"] != "websocket.connect":
        return
    query = scope.get("query_string", b"").decode("latin-1")
    uri = f"ws://127.0.0.1:{port}{scope.get('raw_path', b'').decode('latin-1') or scope['path']}"
    if query:
        uri += f"?{query}"
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k not in _SKIPPED]
    client = scope.get("client")
    if client:
        headers.append(("X-Forwarded-For", client[0]))
    try:
        upstream = await connect(
            uri,
            additional_headers=headers,
            subprotocols=scope.get("subprotocols") or None,
            max_size=MAX_MESSAGE,
            compression=None,
            open_timeout=30,
        )
    except (OSError, InvalidStatus, TimeoutError) as exc:
        await send({"type": "websocket.close", "code": 1011, "reason": f"upstream refused: {exc}"[:120]})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

    async def client_to_upstream() -> None:
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                await upstream.close(event.get("code", 1000) if event.get("code") != 1006 else 1000)
                return
            if event.get("text") is not None:
                await upstream.send(event["text"])
            else:
                await upstream.send(event.get("bytes") or b"")

    pump = asyncio.create_task(client_to_upstream())
    code, reason = 1000, ""
    try:
        async for message in upstream:
            if isinstance(message, str):
                await send({"type": "websocket.send", "text": message})
            else:
                await send({"type": "websocket.send", "bytes": message})
    except ConnectionClosed as closed:
        if closed.rcvd is not None:
            code, reason = closed.rcvd.code, closed.rcvd.reason
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    if upstream.close_code is not None:
        code, reason = upstream.close_code, upstream.close_reason or reason
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": code, "reason": reason})
