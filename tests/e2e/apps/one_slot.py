"""One container with one input slot (tests/e2e/test_client_gone.py): a client that leaves while
its request runs must give the slot back at once, not when the function's timeout ends it."""

import asyncio

import berth

app = berth.App("one-slot")


@app.function(max_containers=1, timeout=120)
@berth.concurrent(max_inputs=1)
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(60)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return asgi
