"""buffer_containers=1: while a request runs, one idle container more stands by."""

import time

import berth

app = berth.App("buffered", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(buffer_containers=1, scaledown_window=2)
@berth.fastapi_endpoint()
def slow(seconds: float = 0.0):
    time.sleep(seconds)
    return "done"
