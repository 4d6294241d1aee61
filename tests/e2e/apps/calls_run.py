"""`berth run` (tests/e2e/test_function_calls.py): a local entrypoint calling the app's functions
on the ephemeral copy `berth run` deploys (the app is never deployed otherwise)."""

import time

import berth

app = berth.App("calls-run", image=berth.Image.debian_slim())


@app.function()
def square(x: int) -> int:
    return x * x


@app.cls()
class Model:
    p: int = berth.parameter(default=1)

    @berth.method()
    def predict(self, x: int) -> int:
        return x * self.p


@app.local_entrypoint()
def main(x: int = 3, label: str = "result", shout: bool = False) -> None:
    text = f"{label}: square={square.remote(x)} model={Model(p=2).predict.remote(x)}"
    print(text.upper() if shout else text)


@app.local_entrypoint()
def wait() -> None:
    print(f"ready {square.remote(2)}", flush=True)
    time.sleep(300)  # until the test interrupts `berth run`


@app.local_entrypoint()
def boom() -> None:
    square.remote(1)
    raise RuntimeError("the entrypoint failed")
