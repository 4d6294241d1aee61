"""A fork bomb in a container: every process forks for ever; a failed fork just retries later.

The endpoint is `async`, so answering needs no new thread once the bomb holds every pid allowed.
"""

import asyncio
import os
import sys

import berth

app = berth.App("fork-bomb", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))

BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.5)
"""


def _processes() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def _try_fork() -> str:
    try:
        pid = os.fork()
    except OSError as exc:
        return type(exc).__name__
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "forked"


@app.function()
@berth.fastapi_endpoint()
async def bomb(seconds: float = 5.0) -> dict:
    await asyncio.create_subprocess_exec(
        sys.executable, "-c", BOMB, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    peak = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        peak = max(peak, _processes())
        await asyncio.sleep(0.2)
    return {"peak_processes": peak, "fork": _try_fork()}
