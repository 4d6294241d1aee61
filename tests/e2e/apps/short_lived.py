"""Scales to zero two seconds after its last request."""

import os

import berth

app = berth.App("short-lived", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(scaledown_window=2)
@berth.fastapi_endpoint()
def pid():
    return os.getpid()
