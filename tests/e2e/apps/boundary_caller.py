"""A tenant whose code tries the edges of what a container may call (tests/e2e/test_call_boundaries.py).

Some of it reaches into the runner's call client to send frames the SDK never would (forged caller
fields, frames for streams it never opened, body past its credit), as hostile code could."""

import asyncio

import berth
from berth._runtime import call_client
from berth._wire import codec
from berth._wire.frames import CALLER_STREAM_BASE
from berth.v1 import stream_pb2

app = berth.App("boundary-caller", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))

CHUNK = 256 * 1024
BIG = b"x" * (4 * 1024 * 1024)


@app.function()
def double(x):
    return 2 * x


@app.function()
@berth.concurrent(max_inputs=16)
def hold(n):
    # Far more than the windows between callee and caller hold: until the caller reads on, the
    # call stays open at the caller's agent.
    yield "started"
    for _ in range(10):
        yield BIG


@app.function(max_containers=1)
def busy(n):
    # One container, held by one call as long as its caller reads slowly: the next call queues.
    yield "started"
    for _ in range(10):
        yield BIG


def _failure(exc: Exception) -> dict:
    return {"error": type(exc).__name__, "message": str(exc), "status": getattr(exc, "status", 0)}


async def _cross() -> dict:
    try:
        return {"value": await berth.Function.from_name("boundary-target", "secret").remote.aio()}
    except Exception as exc:  # noqa: BLE001 - the test reads what the caller saw
        return _failure(exc)


class _Forging:
    """The runner's frame writer, stamping another app's key and a made-up container on every
    call this container opens: what the agent must overwrite."""

    def __init__(self, inner):
        self._inner = inner

    def send(self, frame):
        if frame.WhichOneof("kind") == "request":
            frame.request.caller_app = "live.boundary-target"
            frame.request.caller_container = "someone/else"
        self._inner.send(frame)

    def __getattr__(self, name):
        return getattr(self._inner, name)


async def _forged() -> dict:
    client = call_client.current()
    real = client._writer
    client._writer = _Forging(real)
    try:
        return await _cross()
    finally:
        client._writer = real


async def _stray() -> dict:
    """Frames for a stream this container never opened: dropped, and its own calls go on."""
    client = call_client.current()
    stream = CALLER_STREAM_BASE + (1 << 40)
    client._writer.send(stream_pb2.Frame(stream=stream, body=stream_pb2.Chunk(data=b"x" * CHUNK)))
    client._writer.send(stream_pb2.Frame(stream=stream, credit=stream_pb2.Credit(bytes=1 << 30)))
    client._writer.send(stream_pb2.Frame(stream=stream, cancel=stream_pb2.Cancel()))
    await client._writer.drain()
    return {"value": await double.remote.aio(21)}


async def _overrun() -> dict:
    """A call whose body runs past its credit: that call fails, the container's next one works.
    It queues at the edge for `busy`'s one container (held by a first call), so nothing of its
    body is consumed there meanwhile and all it sends counts against its first window."""
    holding = busy.remote_gen(0)
    first = await asyncio.to_thread(next, holding)
    client = call_client.current()
    caller = call_client._Caller(CALLER_STREAM_BASE + (1 << 41))
    client._callers[caller.id] = caller
    prefix = codec.encode(stream_pb2.CallHead(app="boundary-caller", function="busy"))
    request = stream_pb2.RequestHead(method="POST", path="/__berth/call", body=prefix, end=False)
    client._writer.send(stream_pb2.Frame(stream=caller.id, request=request))
    for _ in range(64):  # 16 MiB, never waiting for credit (a window is 8 MiB)
        client._writer.send(stream_pb2.Frame(stream=caller.id, body=stream_pb2.Chunk(data=b"x" * CHUNK)))
    await client._writer.drain()
    piece = await asyncio.to_thread(caller.arrivals.get, True, 120)
    held = await asyncio.to_thread(lambda: sum(len(value) for value in holding))
    return {
        "first": first, "held": held, "status": piece.status, "message": piece.error,
        "after": await double.remote.aio(4),
    }


def _many(n: int) -> dict:
    opened = [hold.remote_gen(i) for i in range(n)]
    firsts = [next(gen) for gen in opened]  # each call is open end to end now
    try:
        extra = {"value": double.remote(1)}
    except Exception as exc:  # noqa: BLE001 - the test reads what the caller saw
        extra = _failure(exc)
    sizes = [sum(len(value) for value in gen) for gen in opened]
    return {"firsts": firsts, "extra": extra, "sizes": sizes, "after": double.remote(5)}


@app.function()
@berth.fastapi_endpoint()
async def web(what: str = "cross", n: int = 4):
    if what == "cross":
        return await _cross()
    if what == "forged":
        return await _forged()
    if what == "stray":
        return await _stray()
    if what == "overrun":
        return await _overrun()
    if what == "many":
        return await asyncio.to_thread(_many, n)
    return {"error": "unknown what"}
