"""Scales to zero two seconds after its last request."""

import os

import berth

app = berth.App("short-lived", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(scaledown_window=2)
@berth.fastapi_endpoint()
def pid():
    # Which container answered: its id (its pid is 1 in a pid namespace of its own).
    return os.environ["BERTH_CONTAINER_ID"]
