# A plain ASGI app with no lifespan support and no dependencies beyond the stdlib.
import berth

app = berth.App("raw")


@app.function()
@berth.asgi_app()
def web():
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("http only")
        message = await receive()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"raw:" + message.get("body", b"")})

    return asgi
