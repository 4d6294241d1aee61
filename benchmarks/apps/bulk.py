# Bulk benchmark app: a plain ASGI app (no framework in the way of the bytes).
#   POST /upload        reads and discards the body, answers the byte count
#   GET  /download?n=N  streams N bytes in 1 MiB messages, with a content-length
import berth

app = berth.App("bench-bulk")

BLOCK = b"\x5a" * (1024 * 1024)


@app.function()
@berth.asgi_app()
def bulk():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/download":
            size = int(scope["query_string"].decode().partition("n=")[2] or 0)
            headers = [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(size).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            sent = 0
            while sent < size:
                piece = BLOCK if size - sent >= len(BLOCK) else BLOCK[: size - sent]
                sent += len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": sent < size})
            if size == 0:
                await send({"type": "http.response.body", "body": b""})
            return
        total = 0
        more = True
        while more:
            message = await receive()
            total += len(message.get("body", b""))
            more = message.get("more_body", False)
        body = str(total).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return asgi
