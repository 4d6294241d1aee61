# WebSockets for flow-control tests: stdlib-only raw ASGI.
#   /flood?n=COUNT   sends COUNT binary messages of 64 KiB, then waits for the client to close
#   /sink            accepts and never reads; ends when the client closes or the stream is cancelled
#   /big             sends one message over the 2 MiB limit
#   /echo            echoes text messages upper-cased until the client closes
#   POST /hold       takes the body's first message only, then waits for the stream to end
import asyncio

import berth

app = berth.App("ws-flow")
PIECE = 64 * 1024


@app.function()
@berth.concurrent(max_inputs=10)
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        path = scope["path"]
        if scope["type"] == "http":
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            while True:  # send() raises once the stream is cancelled
                await asyncio.sleep(0.01)
                await send({"type": "http.response.body", "body": b"", "more_body": True})
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        if path == "/flood":
            count = int(scope["query_string"].decode().split("=", 1)[1])
            for i in range(count):
                await send({"type": "websocket.send", "bytes": i.to_bytes(4, "big") * (PIECE // 4)})
            print(f"flood: all {count} sent", flush=True)
            await receive()
        elif path == "/sink":
            await asyncio.Future()
        elif path == "/echo":
            while (message := await receive())["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": message["text"].upper()})
        elif path == "/big":
            await send({"type": "websocket.send", "bytes": b"x" * (2 * 1024 * 1024 + 1)})

    return asgi
