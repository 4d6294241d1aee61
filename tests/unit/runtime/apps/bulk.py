# Large bodies both ways, for flow-control tests: stdlib-only raw ASGI.
#   GET /download?n=BYTES  streams BYTES bytes in 256 KiB messages
#   POST /upload           reads the whole body, one message at a time, and answers its size
import berth

app = berth.App("bulk")


@app.function()
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("http only")
        if scope["path"] == "/download":
            size = int(scope["query_string"].decode().split("=", 1)[1])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            piece = 256 * 1024
            sent = 0
            while sent < size:
                n = min(piece, size - sent)
                sent += n
                await send({"type": "http.response.body", "body": b"x" * n, "more_body": sent < size})
            return
        total = 0
        while True:
            message = await receive()
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(total).encode()})

    return asgi
