"""An ASGI app behind proxy auth that answers with the request headers it saw (JSON), over HTTP
and over a WebSocket, so a test can check the proxy-auth headers never reach user code."""

import json

import berth

app = berth.App("proxy-protected")


@app.function()
@berth.asgi_app(requires_proxy_auth=True)
def web():
    async def headers_app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen = json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]])
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": seen})
            await send({"type": "websocket.close", "code": 1000})
            return
        body = seen.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return headers_app
