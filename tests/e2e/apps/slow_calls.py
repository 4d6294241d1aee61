"""Calls that outlive the edge's redirect limit (tests/e2e/test_redirects.py): slow answers that
count how often they ran, a stream that starts at once and ends late, and a function whose own
timeout ends it."""

import asyncio
import collections

import berth

app = berth.App("slow-calls", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


# One container, many inputs: the counts below are that container's, seen by every request.
@app.function(max_containers=1)
@berth.concurrent(max_inputs=20)
@berth.asgi_app()
def web():
    from fastapi import FastAPI
    from fastapi.responses import Response, StreamingResponse

    api = FastAPI()
    runs: collections.Counter[str] = collections.Counter()

    @api.post("/slow")
    async def slow(key: str, seconds: float, size: int = 0):
        runs[key] += 1
        await asyncio.sleep(seconds)
        if size:
            return Response(b"x" * size, media_type="application/octet-stream")
        return {"key": key, "runs": runs[key]}

    @api.get("/runs")
    def count(key: str):
        return {"runs": runs[key]}

    @api.get("/stream")
    async def stream(seconds: float):
        async def chunks():
            yield "first\n"
            await asyncio.sleep(seconds)
            yield "second\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    return api


@app.function(timeout=3)
@berth.fastapi_endpoint()
async def fuse(seconds: float = 6):
    await asyncio.sleep(seconds)
    return "finished"
