"""Flow control through the whole platform (tests/e2e/test_flow_control.py). Raw ASGI, stdlib only;
one container (max_containers=1) so that /status sees what every other request did.

  GET  /status        what the app saw, as JSON
  WS   /flood         pushes 64 KiB messages (FLOOD_BYTES in all) to a client that may never read
  POST /hold          takes the body's first message only, then answers a head and waits for the
                      platform to cancel the request (its client went away)
  POST /read-all      reads the whole body, then answers its size (a client may stall mid-way)
  POST /block?token=T blocks the whole event loop (the container stops reading its socket) until
                      the test makes $HOME/release-T, saying so in $HOME/blocked-T; then reads the
                      body and answers its size
  POST /upload        reads the body and answers its size
  GET  /overrun       a response body sent past the edge's credit, bypassing the runner's window
  WS   /overrun       the same with WebSocket messages (what a hostile container could do)

`neighbour` is another function (its own container on the same agent) answering "ok".
"""

import asyncio
import json
import os
import time

import berth

app = berth.App("flow-control")

PIECE = 64 * 1024
FLOOD_BYTES = 256 << 20
OVERRUN_PIECE = 256 * 1024
OVERRUN_BYTES = 32 << 20
STATE: dict = {"flood_sent": 0, "flood_done": False, "held": 0, "cancelled": 0, "disconnected": 0}
_sending_since: list[float] = []


async def _body_size(receive) -> int:
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            STATE["disconnected"] += 1
            return -1
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            return size


async def _answer(send, status: int, body: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
    )
    await send({"type": "http.response.body", "body": body})


async def _until_cancelled(send) -> None:
    """Empty body chunks until send() raises: the runner's sign that the request was cancelled."""
    try:
        while True:
            await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"", "more_body": True})
    except OSError:
        STATE["cancelled"] += 1


def _block_until_released(token: str) -> None:
    home = os.environ.get("HOME", "/tmp")
    with open(os.path.join(home, f"blocked-{token}"), "w"):
        pass
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(home, f"release-{token}")) and time.monotonic() < deadline:
        time.sleep(0.02)


def _bypass(receive):
    """The runner's stream object behind `receive`: a hostile app can write frames with it
    directly, without waiting for credit."""
    from berth.v1 import stream_pb2

    return receive.__self__, stream_pb2


async def http(scope, receive, send) -> None:
    path = scope["path"]
    if path == "/status":
        sending = time.monotonic() - _sending_since[0] if _sending_since else 0.0
        report = {**STATE, "flood_sending_for": sending, "home": os.environ.get("HOME", "")}
        await _answer(send, 200, json.dumps(report).encode())
    elif path == "/hold":
        await receive()  # the first chunk only: the rest waits at the edge for credit
        STATE["held"] += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await _until_cancelled(send)
    elif path in ("/read-all", "/upload"):
        size = await _body_size(receive)
        if size >= 0:
            await _answer(send, 200, str(size).encode())
    elif path == "/block":
        # On purpose in the event loop: it (and with it the socket to the agent) stops meanwhile.
        _block_until_released(scope["query_string"].decode().split("=", 1)[1])
        size = await _body_size(receive)
        if size >= 0:
            await _answer(send, 200, str(size).encode())
    elif path == "/overrun":
        stream, stream_pb2 = _bypass(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        # Enough to flush the head the runner holds back for a moment, so the flood comes after it.
        await send({"type": "http.response.body", "body": b"x" * PIECE, "more_body": True})
        for _ in range(OVERRUN_BYTES // OVERRUN_PIECE):
            stream.send_frame(stream_pb2.Frame(response_body=stream_pb2.Chunk(data=b"o" * OVERRUN_PIECE)))
            await stream.server.writer.drain()
        await _until_cancelled(send)
    else:
        await _answer(send, 404, b"no such path")


async def websocket(scope, receive, send) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    if scope["path"] == "/flood":
        piece = b"f" * PIECE
        for _ in range(FLOOD_BYTES // PIECE):
            _sending_since[:] = [time.monotonic()]
            await send({"type": "websocket.send", "bytes": piece})
            _sending_since.clear()
            STATE["flood_sent"] += PIECE
        STATE["flood_done"] = True
        await receive()
    elif scope["path"] == "/overrun":
        stream, stream_pb2 = _bypass(receive)
        message = stream_pb2.WebSocketMessage(binary=b"o" * OVERRUN_PIECE)
        for _ in range(OVERRUN_BYTES // OVERRUN_PIECE):
            stream.send_frame(stream_pb2.Frame(ws_message=message))
            await stream.server.writer.drain()
        ended = await receive()
        STATE["ws_overrun_ended"] = ended.get("code")


@app.function(max_containers=1)
@berth.concurrent(max_inputs=20)
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        if scope["type"] == "http":
            await http(scope, receive, send)
        elif scope["type"] == "websocket":
            await websocket(scope, receive, send)

    return asgi


@app.function()
@berth.asgi_app()
def neighbour():
    async def asgi(scope, receive, send):
        if scope["type"] == "http":
            await _answer(send, 200, b"ok")

    return asgi
