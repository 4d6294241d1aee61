"""Containers spread over several agents (tests/e2e/test_agents.py): each answer names the
container that served it, so the test can tell which agent's containers kept answering. No image
to build, so a deploy is quick."""

import asyncio
import os

import berth

app = berth.App("spread")


# Three kept warm, one per agent of a three-agent platform; room for the load to add more.
@app.function(min_containers=3, max_containers=6, timeout=60)
@berth.concurrent(max_inputs=2)
@berth.asgi_app()
def web():
    container = os.environ["BERTH_CONTAINER_ID"].encode()

    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        await asyncio.sleep(0.15)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": container})

    return asgi
