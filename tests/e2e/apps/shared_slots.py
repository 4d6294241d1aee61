"""One container of 4 input slots whose requests wait until 4 are inside at once, for two edges
each sending 2 to share (tests/e2e/test_agents.py). Edges taking turns on the container would
never have 4 inside: each request then answers "alone" after BARRIER seconds instead of "together"."""

import asyncio

import berth

app = berth.App("shared-slots")

BARRIER = 30.0  # seconds a request waits for the others before giving up
TOGETHER = 4

inside = 0
met = asyncio.Event()


@app.function(max_containers=1, timeout=60)
@berth.concurrent(max_inputs=4)
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        global inside
        if scope["type"] != "http":
            return
        inside += 1
        if inside >= TOGETHER:
            met.set()
        try:
            await asyncio.wait_for(met.wait(), BARRIER)
            body = b"together"
        except TimeoutError:
            body = b"alone"
        finally:
            inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return asgi
