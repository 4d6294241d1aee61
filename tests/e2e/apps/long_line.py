"""Prints a 2 MiB line, then a short one, on each call: the log pump must cut the first and keep going."""

import sys

import berth

app = berth.App("long-line", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def shout(marker: str = ""):
    sys.stdout.write("L" * (2 << 20) + "\n")
    print(f"after the long line {marker}", flush=True)
    return "shouted"
