"""Streaming both ways and WebSockets, on an ASGI app that holds several requests at once."""

import asyncio

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
