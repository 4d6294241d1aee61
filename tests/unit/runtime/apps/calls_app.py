"""Functions the runner serves calls of (tests/unit/runtime/test_runner_calls.py)."""

import asyncio

import berth

app = berth.App("calls")


@app.function()
def add(a, b=0):
    return a + b


@app.function()
async def fail(text):
    await asyncio.sleep(0)
    raise KeyError(text)


@app.function()
async def agen(n):
    for i in range(n):
        yield i


@app.cls()
class Model:
    factor: int = berth.parameter(default=2)

    @berth.method()
    def predict(self, x):
        return x * self.factor
