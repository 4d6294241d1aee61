"""A web endpoint calling functions from inside its container (tests/e2e/test_call_from_container.py)."""

import time

import berth

app = berth.App("caller", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
def double(x):
    return 2 * x


@app.function()
def echo(data: bytes) -> bytes:
    return data


@app.function()
def squares(n):
    for i in range(n):
        yield i * i


@app.function()
def fails():
    raise ValueError("from the callee")


@app.function(timeout=120)
def sleepy(seconds: float, tag: str = "") -> str:
    print(f"sleepy {tag}", flush=True)
    time.sleep(seconds)
    return "woke"


@app.function()
@berth.fastapi_endpoint()
def web(what: str = "double", x: int = 1, tag: str = ""):
    try:
        if what == "double":
            return {"value": double.remote(x)}
        if what == "squares":
            return {"value": list(squares.remote_gen(x))}
        if what == "fails":
            return {"value": fails.remote()}
        if what == "echo":
            return {"value": len(echo.remote(b"x" * x))}
        if what == "sleepy":
            return {"value": sleepy.remote(100, tag=tag)}
    except Exception as exc:  # noqa: BLE001 - the test reads what the caller saw
        print(f"call ended {tag}: {type(exc).__name__}: {exc}", flush=True)  # for a caller gone meanwhile
        return {"error": type(exc).__name__, "message": str(exc)}
    return {"error": "unknown what"}
