"""Streaming both ways and WebSockets, on an ASGI app that holds several requests at once."""

import asyncio
import hashlib

import berth

app = berth.App("streams", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.concurrent(max_inputs=20)
@berth.asgi_app()
def web():
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import StreamingResponse

    api = FastAPI()
    released = asyncio.Event()

    @api.get("/stream")
    async def stream():
        async def chunks():
            yield "first\n"
            # The rest waits for /release: the client can only ask for it if "first" arrived alone.
            await asyncio.wait_for(released.wait(), 60)
            yield "second\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @api.post("/release")
    async def release():
        released.set()
        return "released"

    @api.post("/echo-bytes")
    async def echo_bytes(request: Request):
        async def body():
            async for chunk in request.stream():
                yield chunk

        return StreamingResponse(body(), media_type="application/octet-stream")

    @api.post("/slow-upload")
    async def slow_upload(request: Request):
        # Reads slowly, so the edge must wait for credit instead of piling the body up here.
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
            await asyncio.sleep(0.001)
        return {"size": size, "sha256": digest.hexdigest()}

    @api.get("/download")
    async def download(n: int):
        async def body():
            for i in range(0, n, 256 * 1024):
                yield download_piece(i // (256 * 1024))[: n - i]

        return StreamingResponse(body(), media_type="application/octet-stream")

    @api.websocket("/ws")
    async def ws(socket: WebSocket):
        await socket.accept()
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close":
                await socket.close(code=4001, reason="asked to")
                return
            if message.get("text") is not None:
                await socket.send_text(message["text"].upper())
            else:
                await socket.send_bytes(message["bytes"][::-1])

    return api


def download_piece(index: int) -> bytes:
    """The index-th 256 KiB of /download's body: distinct per piece, so order is checked too."""
    return hashlib.sha256(str(index).encode()).digest() * 8192
