"""One container with a few input slots, for two edges to share (tests/e2e/test_agents.py)."""

import asyncio

import berth

app = berth.App("one-container")


@app.function(max_containers=1, timeout=60)
@berth.concurrent(max_inputs=2)
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        await asyncio.sleep(0.2)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return asgi
