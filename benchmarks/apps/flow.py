# Flow-control benchmark app (benchmarks/hostile.py): a plain ASGI app, one container.
#   WS   /flood            pushes 64 KiB messages until the client goes away (it never reads)
#   POST /upload?block=S   blocks its whole event loop S seconds, then reads the body, answers its size
#   GET  /status           {"flood_sent": bytes pushed so far}
import asyncio
import json
import time

import berth

app = berth.App("bench-flow")

PIECE = b"f" * (64 * 1024)
STATE = {"flood_sent": 0}


@app.function(max_containers=1)
@berth.concurrent(max_inputs=8)
@berth.asgi_app()
def flow():
    async def asgi(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            gone = asyncio.ensure_future(receive())
            while not gone.done():
                await send({"type": "websocket.send", "bytes": PIECE})
                STATE["flood_sent"] += len(PIECE)
                await asyncio.sleep(0)  # a send to a closed socket returns at once: let `gone` end
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/upload":
            block = float(scope["query_string"].decode().partition("block=")[2] or 0)
            time.sleep(block)  # noqa: ASYNC251 - on purpose: the container stops reading its socket
            size = 0
            while True:
                message = await receive()
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = str(size).encode()
        else:
            body = json.dumps(STATE).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi
