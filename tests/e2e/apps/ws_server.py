"""A web_server speaking WebSocket itself (not ASGI): the platform must proxy the upgrade."""

import berth

app = berth.App("ws-server", image=berth.Image.debian_slim().pip_install("websockets"))

SERVER = """
import asyncio
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(f"echo:{message}")

async def main():
    async with serve(echo, "0.0.0.0", 8000):
        await asyncio.Future()

asyncio.run(main())
"""


@app.function()
@berth.concurrent(max_inputs=10)
@berth.web_server(8000, startup_timeout=20)
def server():
    import subprocess
    import sys

    subprocess.Popen([sys.executable, "-c", SERVER])
