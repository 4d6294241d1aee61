import asyncio

import berth

app = berth.App("streaming")


@app.function()
@berth.asgi_app()
def web():
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import StreamingResponse

    web_app = FastAPI()

    @web_app.get("/stream")
    async def stream():
        async def gen():
            for i in range(3):
                yield f"data: {i}\n\n"
                await asyncio.sleep(0.05)

        return StreamingResponse(gen(), media_type="text/event-stream")

    @web_app.get("/ip")
    async def ip(request: Request):
        return {"host": request.client.host, "state": sorted(request.state._state)}

    @web_app.get("/boom")
    async def boom():
        raise ValueError("kaboom")

    @web_app.post("/upload")
    async def upload(request: Request):
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    @web_app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text.upper())
        await websocket.close()

    return web_app
