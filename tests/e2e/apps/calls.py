"""Function calls (tests/e2e/test_function_calls.py): web handlers calling the app's other
functions with .remote, .remote_gen, .map and .spawn (+ FunctionCall.from_id), functions that
raise, a function with max_containers=10 for a big .map, and a class method with a parameter."""

import os

import berth

app = berth.App("calls", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


class Oops(Exception):
    """Defined in the app file: a caller without this module cannot re-create it."""


@app.function()
def square(x: int) -> int:
    return x * x


@app.function()
def count(n: int):
    for i in range(n):
        yield i * 10


@app.function()
def fail(kind: str) -> None:
    if kind == "value":
        raise ValueError(f"bad value {kind}")
    raise Oops("custom failure")


@app.function(max_containers=10)
def double(x: int) -> dict:
    return {"x": 2 * x, "container": os.environ.get("BERTH_CONTAINER_ID", "")}


@app.function()
@berth.fastapi_endpoint()
def fan(n: int = 4) -> dict:
    call = square.spawn(n + 1)
    try:
        fail.remote("value")
        failure = {}
    except ValueError as exc:
        failure = {"type": type(exc).__name__, "message": str(exc), "notes": exc.__notes__}
    return {
        "remote": square.remote(n),
        "remote_gen": list(count.remote_gen(n)),
        "map": list(square.map(range(n))),
        "starmap": list(square.starmap([(1,), (2,)])),
        "spawned": berth.FunctionCall.from_id(call.object_id).get(timeout=60),
        "failure": failure,
        "model": Model(p=3).predict.remote(n),
    }


@app.function()
@berth.fastapi_endpoint()
async def fan_async(n: int = 3) -> dict:
    # An async handler runs on the container's event loop: it uses the .aio flavours.
    mapped = [x async for x in square.map.aio(range(n))]
    return {"remote": await square.remote.aio(n), "map": mapped}


@app.function()
@berth.fastapi_endpoint()
async def blocking_in_async() -> str:
    try:
        square.remote(2)
    except berth.InvalidError as exc:
        return str(exc)
    return "no error"


@app.cls()
class Model:
    p: int = berth.parameter(default=1)

    @berth.method()
    def predict(self, x: int) -> int:
        return x * self.p
