"""Functions without a web decorator, called through the edge (tests/e2e/test_call_api.py)."""

import os
import time

import berth

app = berth.App("callable")


@app.function()
def add(a, b=0):
    return a + b


@app.function()
def boom(text):
    raise ValueError(f"boom: {text}")


@app.function()
def count(n):
    for i in range(n):
        yield i * i


@app.function()
async def size(data: bytes) -> int:
    return len(data)


@app.function(max_containers=1)
def one_at_a_time(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@app.function(timeout=120)
def sleepy(seconds: float, tag: str = "") -> str:
    if tag:
        print(f"sleepy {tag}", flush=True)
    time.sleep(seconds)
    return "woke"


@app.function(timeout=2)
def too_slow() -> str:
    time.sleep(30)
    return "never"


@app.cls()
class Model:
    factor: int = berth.parameter(default=2)

    @berth.method()
    def predict(self, x):
        return x * self.factor
